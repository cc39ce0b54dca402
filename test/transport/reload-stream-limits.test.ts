/**
 * SAGA_STREAM_MAX_AGE and SAGA_STREAM_MAX_BYTES apply to every stream sagad creates: those of
 * the definitions it starts with, and those a definitions reload needs (docs/operations.md).
 */
import t from 'tap';
import { connectNats } from '../../engine/transport/connection.js';
import { inProcessWorld } from '../helpers/in-process-sagad.js';
import { sagaYaml, writeDefinitions } from '../reload/defs.js';

t.test('a stream created by a definitions reload gets max_age and max_bytes, as one created at start does', async (t) => {
  const w = await inProcessWorld(t, [sagaYaml('alpha', 'al', ['a1'])], { SAGA_STREAM_MAX_AGE: '1h', SAGA_STREAM_MAX_BYTES: String(1 << 20) });
  const server = await w.start();
  const link = await connectNats({ url: w.nats.url });
  t.teardown(() => link.close());
  const limitsOf = async (stream: string) => {
    const info = await link.jsm.streams.info(stream);
    return { max_age: info.config.max_age, max_bytes: info.config.max_bytes };
  };
  const want = { max_age: 3_600_000 * 1_000_000, max_bytes: 1 << 20 };
  t.same(await limitsOf('AL'), want, 'the stream made at start');

  writeDefinitions(w.dir, 'sagas.yaml', [sagaYaml('alpha', 'al', ['a1']), sagaYaml('newbie', 'nw', ['n1'])]);
  const res = await fetch(`${server.httpUrl}/v1/definitions/reload`, { method: 'POST' });
  t.equal(res.status, 200);
  t.match(await res.json(), { subjects: ['nw.events', 'nw.replies'] }, 'the reload consumes the new saga\'s subjects');
  t.same(await limitsOf('NW'), want, 'the stream made by the reload has the same limits');
});
