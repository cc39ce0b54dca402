/**
 * SAGA_STREAM_MAX_AGE and SAGA_STREAM_MAX_BYTES apply to every stream sagad creates: those of
 * the definitions it starts with, and those a definitions reload needs (docs/operations.md).
 */
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../engine/config.js';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import { startSagad } from '../../engine/main.js';
import { connectNats } from '../../engine/transport/connection.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { sagaYaml, writeDefinitions } from '../reload/defs.js';

t.test('a stream created by a definitions reload gets max_age and max_bytes, as one created at start does', async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const file = writeDefinitions(dir, 'sagas.yaml', [sagaYaml('alpha', 'al', ['a1'])]);
  const defs = loadDefinitionsFile(file);
  if (!defs.ok) throw new Error('definitions invalid');
  const config = loadConfig({
    SAGA_DEFINITIONS: file, SAGA_DB: join(dir, 'sagad.db'), NATS_URL: nats.url, SAGA_HTTP_PORT: '0',
    SAGA_STREAM_MAX_AGE: '1h', SAGA_STREAM_MAX_BYTES: String(1 << 20),
  });
  const server = await startSagad(config, defs.sagas, silentLog);
  t.teardown(() => server.stop());
  const link = await connectNats({ url: nats.url });
  t.teardown(() => link.close());
  const limitsOf = async (stream: string) => {
    const info = await link.jsm.streams.info(stream);
    return { max_age: info.config.max_age, max_bytes: info.config.max_bytes };
  };
  const want = { max_age: 3_600_000 * 1_000_000, max_bytes: 1 << 20 };
  t.same(await limitsOf('AL'), want, 'the stream made at start');

  writeDefinitions(dir, 'sagas.yaml', [sagaYaml('alpha', 'al', ['a1']), sagaYaml('newbie', 'nw', ['n1'])]);
  const res = await fetch(`${server.httpUrl}/v1/definitions/reload`, { method: 'POST' });
  t.equal(res.status, 200);
  t.match(await res.json(), { subjects: ['nw.events', 'nw.replies'] }, 'the reload consumes the new saga\'s subjects');
  t.same(await limitsOf('NW'), want, 'the stream made by the reload has the same limits');
});
