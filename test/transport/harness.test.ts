import t from 'tap';
import { existsSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { natsServerPath, startNatsServer } from '../helpers/nats-server.js';

t.test('natsServerPath finds the binary or explains how to install it', async (t) => {
  t.match(natsServerPath(), /nats-server$/);
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    t.throws(() => natsServerPath(), { message: /nats-server not found on PATH; install it with `apt-get install -y nats-server`/ });
  } finally {
    process.env.PATH = saved;
  }
});

t.test('starts a JetStream server on a free port and removes its store on stop', async (t) => {
  const server = await startNatsServer();
  t.ok(server.port > 0, 'a port was chosen');
  t.equal(server.url, `nats://127.0.0.1:${server.port}`);
  t.ok(existsSync(server.storeDir), 'store dir exists while running');
  const nc = await connect({ servers: server.url });
  const reply = await nc.request('$JS.API.INFO', undefined, { timeout: 2_000 });
  t.match(reply.json(), { type: 'io.nats.jetstream.api.v1.account_info_response' });
  await nc.close();
  await server.stop();
  t.notOk(existsSync(server.storeDir), 'store dir removed');
  await t.rejects(connect({ servers: server.url, reconnect: false, timeout: 1_000 }), 'server is gone');
});

t.test('restart keeps the port and the store', async (t) => {
  const server = await startNatsServer();
  t.teardown(() => server.stop());
  const port = server.port;
  const nc = await connect({ servers: server.url });
  await nc.request('$JS.API.STREAM.CREATE.KEEP', JSON.stringify({ name: 'KEEP', subjects: ['keep.>'], storage: 'file' }));
  await nc.close();
  server.kill9();
  await server.restart();
  t.equal(server.port, port);
  const nc2 = await connect({ servers: server.url });
  const info = (await nc2.request('$JS.API.STREAM.INFO.KEEP')).json<{ config?: { name: string } }>();
  t.equal(info.config?.name, 'KEEP', 'stream survived kill -9 and restart');
  await nc2.close();
});
