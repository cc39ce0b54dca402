/**
 * A durable consumer deleted while sagad runs (an operator 'resetting' it) is made again from
 * the first message this process had not finished, not from the start of the stream: messages
 * handled long ago, older than the inbox remembers, would otherwise be handled again.
 */
import t from 'tap';
import { connectNats, type NatsLink } from '../../engine/transport/connection.js';
import { consume, durableNameFor, type Verdict } from '../../engine/transport/consumer.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { ensureStreams } from '../../engine/transport/streams.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';

t.test('deleted while running: made again from the first unfinished message; the handled ones do not come back', async (t) => {
  const server = await startNatsServer();
  t.teardown(() => server.stop());
  const link: NatsLink = await connectNats({ url: server.url, jsTimeoutMs: 2_000 });
  t.teardown(() => link.close());
  const streams = await ensureStreams(link.jsm, ['r.events'], 'create');
  const stream = streams['r.events'] ?? '';
  const publish = (bodies: string[]) => Promise.all(bodies.map((b) => publishEnvelope(link.js, 'r.events', new TextEncoder().encode(b), {}, `r-${b}`)));
  const seen: string[] = [];
  const lines: string[] = [];
  // `held` is naked (with a delay) each time until the end: unfinished when the consumer goes.
  let release = false;
  const sub = await consume(link, 'r.events', async (m): Promise<Verdict> => {
    const body = new TextDecoder().decode(m.data);
    seen.push(body);
    return body === 'held' && !release ? { nakDelayMs: 60_000 } : 'ack';
  }, { stream, expiresMs: 1_000, log: (_level, msg) => { lines.push(msg); } });
  t.teardown(() => sub.stop());
  await publish(['m1', 'held', 'm3']);
  await until(() => seen.length === 3, 'the first three handled');
  await until(async () => (await sub.pending()) === 1, 'm1 and m3 acknowledged, held naked');

  await link.jsm.consumers.delete(stream, durableNameFor('sagad', 'r.events'));
  release = true;
  await publish(['m4']);
  await until(() => seen.includes('m4'), 'the message published after the deletion');
  await until(() => seen.filter((b) => b === 'held').length === 2, 'the unfinished message again');
  // m3 came after the unfinished message: it comes again (the inbox drops such a repeat); m1 does not.
  t.same(seen, ['m1', 'held', 'm3', 'held', 'm3', 'm4'], 'from the unfinished message on, not from the first');
  t.ok(lines.some((l) => /consumer was gone \(deleted\?\) and is made again from the first message this process had not finished/.test(l)), 'logged');
});
