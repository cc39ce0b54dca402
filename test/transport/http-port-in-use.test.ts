/** An HTTP port another process holds: sagad does not start, and says which port and what to do. */
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../engine/config.js';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import { startSagad } from '../../engine/main.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { sagaYaml, writeDefinitions } from '../reload/defs.js';

t.test('the HTTP port in use: start fails with one sentence naming the port and SAGA_HTTP_PORT', async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const address = taken.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const file = writeDefinitions(dir, 'sagas.yaml', [sagaYaml('alpha', 'al', ['a1'])]);
  const defs = loadDefinitionsFile(file);
  if (!defs.ok) throw new Error('definitions invalid');
  const config = loadConfig({ SAGA_DEFINITIONS: file, SAGA_DB: join(dir, 'sagad.db'), NATS_URL: nats.url, SAGA_HTTP_PORT: String(port) });
  await t.rejects(startSagad(config, defs.sagas, silentLog), {
    message: `the HTTP API cannot listen on 127.0.0.1:${port}: another process uses that port; stop it, or set SAGA_HTTP_PORT to a free port (0: any free port)`,
  });
});
