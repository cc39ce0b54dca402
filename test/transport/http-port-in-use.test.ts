/** An HTTP port another process holds: sagad does not start, and says which port and what to do. */
import { createServer } from 'node:net';
import t from 'tap';
import { inProcessWorld } from '../helpers/in-process-sagad.js';
import { sagaYaml } from '../reload/defs.js';

t.test('the HTTP port in use: start fails with one sentence naming the port and SAGA_HTTP_PORT', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const address = taken.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const w = await inProcessWorld(t, [sagaYaml('alpha', 'al', ['a1'])], { SAGA_HTTP_PORT: String(port) });
  await t.rejects(w.start(), {
    message: `the HTTP API cannot listen on 127.0.0.1:${port}: another process uses that port; stop it, or set SAGA_HTTP_PORT to a free port (0: any free port)`,
  });
});
