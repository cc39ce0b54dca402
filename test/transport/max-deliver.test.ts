/**
 * A message whose last delivery is not handled to completion is not lost. The durable
 * consumer redelivers without limit (max_deliver -1) and sagad counts the attempts itself:
 * from delivery `maxDeliver` on a delivery is the last attempt, one past it (the last attempt
 * never finished: sagad killed, drained, or its handler failed) is the last attempt again, and
 * one far past it is abandoned without being handled (parked by `onAbandoned`).
 */
import t from 'tap';
import { AckPolicy } from '@nats-io/jetstream';
import { connectNats } from '../../engine/transport/connection.js';
import type { NatsLink } from '../../engine/transport/connection.js';
import { ABANDONED_HOLD_MS, consume, durableNameFor, UNFINISHED_DELIVERIES } from '../../engine/transport/consumer.js';
import type { ConsumeOptions, InboundMessage, Verdict } from '../../engine/transport/consumer.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { ensureStreams } from '../../engine/transport/streams.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (m: InboundMessage): string => new TextDecoder().decode(m.data);
/** A delivery as a test sees it: body, delivery count, last attempt. */
const seen = (m: InboundMessage): [string, number, boolean] => [text(m), m.deliveryCount, m.lastAttempt];

t.test('max deliver', async (t) => {
  const server = await startNatsServer();
  t.teardown(() => server.stop());
  const link: NatsLink = await connectNats({ url: server.url, jsTimeoutMs: 2_000 });
  t.teardown(() => link.close());
  const subjects = ['killed.events', 'failing.events', 'held.events', 'drained.events', 'legacy.events'];
  const streams = await ensureStreams(link.jsm, subjects, 'create');
  const opts = (subject: string, more: Partial<ConsumeOptions> = {}): ConsumeOptions => ({ stream: streams[subject] ?? '', errorNakDelayMs: 20, expiresMs: 1_000, ...more });
  const publish = (subject: string, bodies: string[]) =>
    Promise.all(bodies.map((b) => publishEnvelope(link.js, subject, enc(b), {}, `${subject}-${b}`)));

  t.test('with max deliver 1, a delivery in flight when its process dies comes back and is handled as the last attempt', async (t) => {
    const subject = 'killed.events';
    // The first sagad: its handler never finishes, then its connection is gone as with kill -9.
    const doomed = await connectNats({ url: server.url, jsTimeoutMs: 2_000 });
    const first: [string, number, boolean][] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    const sub1 = await consume(doomed, subject, async (m) => { first.push(seen(m)); await gate; return 'ack'; }, opts(subject, { maxDeliver: 1, ackWaitMs: 1_000 }));
    t.teardown(async () => {
      release();
      await sub1.stop();
    });
    await publish(subject, ['order-1']);
    await until(() => first.length === 1, 'the first delivery');
    await doomed.nc.close();
    t.same(first, [['order-1', 1, true]], 'with max deliver 1 the first delivery is the last attempt');

    const second: [string, number, boolean][] = [];
    const sub2 = await consume(link, subject, async (m) => { second.push(seen(m)); return 'ack'; }, opts(subject, { maxDeliver: 1, ackWaitMs: 1_000 }));
    t.teardown(() => sub2.stop());
    await until(() => second.length === 1, 'the message delivered again after ack_wait');
    t.same(second, [['order-1', 2, true]], 'delivered again, and handled as the last attempt again');
    const info = await link.jsm.consumers.info(streams[subject] ?? '', sub2.durable);
    t.equal(info.config.max_deliver, -1, 'JetStream itself never gives up on a message');
    await until(async () => (await sub2.pending()) === 0, 'the redelivery acked');
  });

  t.test('a handler failing every time: the last attempt is tried again, then the message is abandoned without being handled', async (t) => {
    const subject = 'failing.events';
    const handled: [string, number, boolean][] = [];
    const abandoned: { m: [string, number, boolean]; reason: string }[] = [];
    const sub = await consume(link, subject, async (m) => {
      handled.push(seen(m));
      if (text(m) === 'bad') throw new Error('boom');
      return 'ack';
    }, opts(subject, {
      maxDeliver: 2,
      onAbandoned: async (m, reason): Promise<Verdict> => { abandoned.push({ m: seen(m), reason }); return 'ack'; },
    }));
    t.teardown(() => sub.stop());
    await publish(subject, ['bad']);
    await until(() => abandoned.length === 1, 'the message abandoned');
    t.equal(UNFINISHED_DELIVERIES, 3);
    t.same(handled, [['bad', 1, false], ['bad', 2, true], ['bad', 3, true], ['bad', 4, true], ['bad', 5, true]],
      'handled up to max deliver + 3 times, from max deliver on as the last attempt');
    t.same(abandoned[0]?.m, ['bad', 6, true], 'the sixth delivery is not handled but abandoned');
    t.match(abandoned[0]?.reason, /^delivered 6 times and its handling never finished/);
    // A message published after proves the consumer moved on and the abandoned one did not come back.
    await publish(subject, ['after']);
    await until(() => handled.some(([b]) => b === 'after'), 'the next message');
    t.equal(handled.filter(([b]) => b === 'bad').length, 5);
    t.equal(abandoned.length, 1);
  });

  t.test('abandoned with nothing to park it, a message is held back in JetStream, not dropped', async (t) => {
    const subject = 'held.events';
    const stream = streams[subject] ?? '';
    const naks: string[] = [];
    const acks = link.nc.subscribe(`$JS.ACK.${stream}.>`, { callback: (_err, m) => { if (m.string().startsWith('-NAK')) naks.push(m.string()); } });
    t.teardown(() => acks.unsubscribe());
    let handled = 0;
    const sub = await consume(link, subject, async () => { handled++; return 'nak'; }, opts(subject, { maxDeliver: 1 }));
    t.teardown(() => sub.stop());
    await publish(subject, ['poison']);
    const hold = `-NAK ${JSON.stringify({ delay: ABANDONED_HOLD_MS * 1_000_000 })}`;
    await until(() => naks.includes(hold), 'the abandoned message held back');
    t.equal(handled, 1 + UNFINISHED_DELIVERIES, 'handled four times, not a fifth');
    t.equal(await sub.pending(), 1, 'still in JetStream, waiting');
  });

  t.test('stop() naks the messages its pull holds; with max deliver 1 they still come back, as the last attempt', async (t) => {
    const subject = 'drained.events';
    const first: [string, number, boolean][] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    // An ack_wait far beyond the test's timeout: only the nak of stop() can bring them back.
    const once = { maxDeliver: 1, ackWaitMs: 60 * 60_000 };
    const sub = await consume(link, subject, async (m) => { first.push(seen(m)); await gate; return 'ack'; }, opts(subject, once));
    await publish(subject, ['slow', 'next1', 'next2']);
    await until(() => first.length === 1, 'the first message in the handler');
    const stopping = sub.stop();
    await link.nc.flush();
    release();
    await stopping;
    t.same(first, [['slow', 1, true]], 'nothing else handled after stop');

    const second: [string, number, boolean][] = [];
    const sub2 = await consume(link, subject, async (m) => { second.push(seen(m)); return 'ack'; }, opts(subject, once));
    t.teardown(() => sub2.stop());
    await until(() => second.length === 2, 'the held messages delivered again');
    t.same(second, [['next1', 2, true], ['next2', 2, true]], 'the held messages come back, handled as the last attempt');
  });

  t.test('a durable left with a finite max_deliver is updated in place: it keeps its position, and its last delivery in flight comes back', async (t) => {
    const subject = 'legacy.events';
    const stream = streams[subject] ?? '';
    const durable = durableNameFor('sagad', subject);
    // As an older sagad made it: max_deliver 3.
    await link.jsm.consumers.add(stream, {
      durable_name: durable, filter_subject: subject, ack_policy: AckPolicy.Explicit, max_deliver: 3, ack_wait: 5_000 * 1_000_000,
    });
    await publish(subject, ['m1', 'm2']);
    const old = await link.js.consumers.get(stream, durable);
    const m1 = await old.next({ expires: 2_000 });
    t.equal(m1?.string(), 'm1');
    t.ok(await m1?.ackAck(), 'm1 acked by the older sagad');
    for (let count = 1; count <= 3; count++) {
      const m = await old.next({ expires: 2_000 });
      t.same([m?.string(), m?.info.deliveryCount], ['m2', count]);
      // The third, last, delivery is never answered: the older sagad died with it in flight.
      if (count < 3) m?.nak();
    }
    await publish(subject, ['m3']);

    const handled: [string, number, boolean][] = [];
    const sub = await consume(link, subject, async (m) => { handled.push(seen(m)); return 'ack'; }, opts(subject, { maxDeliver: 3, ackWaitMs: 1_000 }));
    t.teardown(() => sub.stop());
    t.equal(sub.durable, durable, 'the same durable');
    const info = await link.jsm.consumers.info(stream, durable);
    t.same([info.config.max_deliver, info.config.ack_wait], [-1, 1_000 * 1_000_000], 'updated to unlimited deliveries');
    await until(() => handled.length === 2, 'm3, and m2 once its ack_wait has passed');
    t.same(handled, [['m3', 1, false], ['m2', 4, true]], 'm1 is not delivered again; m2 comes back as the last attempt');
    await until(async () => (await sub.pending()) === 0, 'all acked');
    t.equal((await link.jsm.consumers.info(stream, durable)).ack_floor.stream_seq, 3, 'the ack floor is past every message');
  });
});
