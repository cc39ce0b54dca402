import t from 'tap';
import { startNatsServer } from '../helpers/nats-server.js';
import { connectNats } from '../../engine/transport/connection.js';
import { ensureStreams, streamNameFor, subjectCovers } from '../../engine/transport/streams.js';

t.test('streamNameFor and subjectCovers', async (t) => {
  t.equal(streamNameFor('inventory.commands'), 'INVENTORY');
  t.equal(streamNameFor('my-svc.v1.x'), 'MY-SVC');
  t.equal(streamNameFor('caf\u00e9$.events'), 'CAF__');
  t.ok(subjectCovers('inventory.>', 'inventory.commands'));
  t.ok(subjectCovers('inventory.>', 'inventory.*.x'));
  t.ok(subjectCovers('inventory.*', 'inventory.commands'));
  t.notOk(subjectCovers('inventory.>', 'inventory'));
  t.notOk(subjectCovers('inventory.*', 'inventory.a.b'));
  t.notOk(subjectCovers('inventory.commands', 'inventory.*'));
  t.notOk(subjectCovers('inventory.*', 'inventory.>'));
});

t.test('ensureStreams against a real server', async (t) => {
  const server = await startNatsServer();
  t.teardown(() => server.stop());
  const link = await connectNats({ url: server.url });
  t.teardown(() => link.close());
  const { jsm } = link;

  await t.rejects(ensureStreams(jsm, ['inventory.commands', 'payments.events'], 'verify'), {
    code: 'SAGA_ERR_STREAM_MISSING',
    message: /stream INVENTORY for subject inventory\.commands does not exist.*stream PAYMENTS for subject payments\.events does not exist/,
  }, 'verify names every missing stream');

  const subjects = ['inventory.commands', 'inventory.events', 'payments.events'];
  t.same(await ensureStreams(jsm, subjects, 'create'), {
    'inventory.commands': 'INVENTORY', 'inventory.events': 'INVENTORY', 'payments.events': 'PAYMENTS',
  });
  const inv = await jsm.streams.info('INVENTORY');
  t.same(inv.config.subjects, ['inventory.>']);
  t.equal(inv.config.storage, 'file');
  t.equal(inv.config.duplicate_window, 120_000_000_000, 'two minute duplicate window');

  t.same(await ensureStreams(jsm, subjects, 'create'), await ensureStreams(jsm, subjects, 'verify'), 'second call is a no-op');
  t.equal((await jsm.streams.info('INVENTORY')).state.messages, 0);
  const names: string[] = [];
  for await (const n of jsm.streams.names()) names.push(n);
  t.same(names.sort(), ['INVENTORY', 'PAYMENTS'], 'one stream per first token');

  // A stream managed elsewhere that captures only some subjects.
  await jsm.streams.add({ name: 'SHIPPING', subjects: ['shipping.commands'] });
  await t.rejects(ensureStreams(jsm, ['shipping.commands', 'shipping.events'], 'verify'), {
    code: 'SAGA_ERR_STREAM_MISSING', message: /stream SHIPPING exists but does not capture subject shipping\.events/,
  });
  t.same(await ensureStreams(jsm, ['shipping.events'], 'create'), { 'shipping.events': 'SHIPPING' });
  t.same((await jsm.streams.info('SHIPPING')).config.subjects, ['shipping.commands', 'shipping.events'], 'subject added');

  t.same(await ensureStreams(jsm, ['audit'], 'create'), { audit: 'AUDIT' }, 'a one-token subject');
  t.same((await jsm.streams.info('AUDIT')).config.subjects, ['audit.>', 'audit']);

  // A differently named stream that already captures the subject is used as it is.
  await jsm.streams.add({ name: 'ALL_ORDERS', subjects: ['orders.>'] });
  t.same(await ensureStreams(jsm, ['orders.events'], 'verify'), { 'orders.events': 'ALL_ORDERS' });
  t.same(await ensureStreams(jsm, ['orders.events'], 'create'), { 'orders.events': 'ALL_ORDERS' });
});
