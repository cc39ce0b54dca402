import t from 'tap';
import { connectNats } from '../../engine/transport/connection.js';
import { ensureLifecycleStream, ensureStreams, limitsConfig, unlimited } from '../../engine/transport/streams.js';
import { startNatsServer } from '../helpers/nats-server.js';

t.test('limitsConfig and unlimited', async (t) => {
  t.same(limitsConfig({}), {}, 'unset: no limit fields at all');
  t.same(limitsConfig({ maxAgeMs: 1_000, maxBytes: 4096 }), { max_age: 1_000_000_000, max_bytes: 4096 }, 'max_age in nanoseconds');
  t.ok(unlimited({ max_age: 0, max_bytes: -1, max_msgs: -1 }));
  t.notOk(unlimited({ max_age: 1, max_bytes: -1, max_msgs: -1 }));
  t.notOk(unlimited({ max_age: 0, max_bytes: 1024, max_msgs: -1 }));
  t.notOk(unlimited({ max_age: 0, max_bytes: -1, max_msgs: 10 }));
});

t.test('streams sagad creates get max_age and max_bytes; verify warns about streams without limits', async (t) => {
  const server = await startNatsServer();
  t.teardown(() => server.stop());
  const link = await connectNats({ url: server.url });
  t.teardown(() => link.close());
  const { jsm } = link;

  await ensureStreams(jsm, ['inventory.commands'], 'create', { maxAgeMs: 3_600_000, maxBytes: 1 << 20 });
  const inv = await jsm.streams.info('INVENTORY');
  t.equal(inv.config.max_age, 3_600_000 * 1_000_000, 'max_age of one hour');
  t.equal(inv.config.max_bytes, 1 << 20);
  t.equal(inv.config.duplicate_window, 120_000_000_000, 'the duplicate window unchanged');

  await ensureStreams(jsm, ['payments.commands'], 'create', { maxAgeMs: 60_000 });
  const pay = await jsm.streams.info('PAYMENTS');
  t.equal(pay.config.max_age, 60_000_000_000);
  t.equal(pay.config.duplicate_window, 60_000_000_000, 'a max_age under two minutes bounds the duplicate window, as JetStream requires');
  t.equal(pay.config.max_bytes, -1, 'no max_bytes asked, none set');

  await ensureStreams(jsm, ['shipping.commands'], 'create');
  t.ok(unlimited((await jsm.streams.info('SHIPPING')).config), 'unset: created without limits, as before');

  await ensureLifecycleStream(jsm, 'sagas.events', { maxAgeMs: 86_400_000 });
  t.equal((await jsm.streams.info('SAGAS')).config.max_age, 86_400_000 * 1_000_000, 'the lifecycle stream too');

  const warned: string[] = [];
  const warn = (m: string) => warned.push(m);
  await ensureStreams(jsm, ['inventory.commands', 'inventory.events', 'payments.events', 'shipping.commands', 'shipping.events'], 'verify', { warn });
  t.equal(warned.length, 1, 'one warning, for the one stream without limits, however many of its subjects are used');
  t.match(warned[0], /^stream SHIPPING has no limits \(max_age, max_bytes, max_msgs\).*nats stream edit SHIPPING --max-age/);
  warned.length = 0;
  await ensureStreams(jsm, ['shipping.commands'], 'create', { warn });
  t.same(warned, [], 'create mode does not warn');
});
