import t from 'tap';
import { buildApi } from '../../engine/api/app.js';
import { silentLog } from '../../engine/log.js';
import { Engine } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openPostgresStore } from '../../engine/store/postgres/index.js';
import { sagasOf } from '../definitions/fixtures/saga-yaml.js';
import { startPostgres } from '../helpers/postgres.js';

/**
 * A NUL in a URL (a path id, a filter, a cursor) is a client's mistake, answered 400: PostgreSQL
 * refuses a NUL in any text parameter, which answered 500 and logged an error with its stack
 * for each such request.
 */
const server = await startPostgres();
t.teardown(() => server.stop());

t.test('ids, filters and cursors holding a NUL are refused as bad requests, on PostgreSQL', async (t) => {
  const store = await openPostgresStore(await server.createDatabase());
  t.teardown(() => store.close());
  const engine = new Engine({ store, log: silentLog, registry: new Registry(sagasOf(`
version: 1
sagas:
  - name: s
    steps:
      - name: a
        pivot: true
        timeout: 10s
        command: { subject: a.commands, type: A, payload: {} }
        reply: { subject: a.events, success: [Done] }
`)) });
  const errors: unknown[] = [];
  const app = buildApi(engine, { log: (level, msg, fields) => { if (level === 'error') errors.push({ msg, fields }); } });
  t.teardown(() => app.close());
  for (const url of [
    '/v1/instances?key=a%00b', '/v1/instances?saga=s%00', '/v1/instances?correlationId=%00', '/v1/instances/a%00b',
    '/v1/instances/a%00b/history', '/v1/definitions/s%00/versions',
  ]) {
    const r = await app.inject({ method: 'GET', url });
    t.equal(r.statusCode, 400, `${url}: 400`);
    t.equal(r.json<{ code: string }>().code, 'SAGA_ERR_VALIDATION');
  }
  const cancel = await app.inject({ method: 'POST', url: '/v1/instances/a%00b/cancel', payload: {} });
  t.equal(cancel.statusCode, 400, 'a cancel of such an id too');
  // A cursor is base64url: the NUL hides inside it.
  const cursor = Buffer.from(JSON.stringify([1, 'a\u0000b'])).toString('base64url');
  const listed = await app.inject({ method: 'GET', url: `/v1/instances?cursor=${cursor}` });
  t.equal(listed.statusCode, 400, 'a cursor holding a NUL');
  t.equal(listed.json<{ code: string }>().code, 'SAGA_ERR_BAD_CURSOR');
  t.same(errors, [], 'nothing logged as an error');
  // Other ids still work.
  const ok = await app.inject({ method: 'GET', url: '/v1/instances?key=a' });
  t.equal(ok.statusCode, 200);
});
