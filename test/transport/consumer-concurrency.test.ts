import t from 'tap';
import { startNatsServer } from '../helpers/nats-server.js';
import { connectNats } from '../../engine/transport/connection.js';
import { consume } from '../../engine/transport/consumer.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { ensureStreams } from '../../engine/transport/streams.js';

/** With concurrency > 1 the handler is still called in stream order and every message is acked once its promise settles. */
t.test('pipelined handlers keep stream order and ack every message', async (t) => {
  const server = await startNatsServer();
  t.teardown(() => server.stop());
  const link = await connectNats({ url: server.url });
  t.teardown(() => link.close());
  const streams = await ensureStreams(link.jsm, ['p.events'], 'create');
  const n = 60;
  await Promise.all(Array.from({ length: n }, (_, i) => publishEnvelope(link.js, 'p.events', new TextEncoder().encode(String(i)), {}, `p-${i}`)));
  const calls: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let resolveAll: () => void = () => undefined;
  const allSeen = new Promise<void>((r) => { resolveAll = r; });
  const sub = await consume(link, 'p.events', async (m) => {
    calls.push(Number(new TextDecoder().decode(m.data)));
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    // Settle in a scrambled order: later messages may finish first.
    await new Promise((r) => setTimeout(r, (calls.length * 7) % 5));
    inFlight--;
    if (calls.length === n) resolveAll();
    return 'ack';
  }, { stream: streams['p.events'] ?? '', concurrency: 16, batchSize: 32, expiresMs: 1000 });
  t.teardown(() => sub.stop());
  await allSeen;
  t.same(calls, Array.from({ length: n }, (_, i) => i), 'called in stream order, each once');
  t.ok(maxInFlight > 1, `handlers overlapped (at most ${maxInFlight} at once)`);
  t.ok(maxInFlight <= 16, 'never more than the concurrency');
  await sub.stop();
  t.equal(await sub.pending(), 0, 'all acked');
});
