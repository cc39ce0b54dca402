import t from 'tap';
import { startNatsServer } from '../helpers/nats-server.js';
import { waitFor } from '../helpers/sagad.js';
import { until } from '../helpers/until.js';
import { connectNats } from '../../engine/transport/connection.js';
import type { NatsLink } from '../../engine/transport/connection.js';
import { ensureStreams } from '../../engine/transport/streams.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { consume, durableNameFor, ensureConsumer } from '../../engine/transport/consumer.js';
import type { ConsumeOptions, InboundMessage, Verdict } from '../../engine/transport/consumer.js';

/** Records handled messages and resolves waits as soon as a condition on them holds. */
function recorder() {
  const seen: { body: string; m: InboundMessage }[] = [];
  const waits: { pred: () => boolean; resolve: () => void }[] = [];
  return {
    seen,
    add(m: InboundMessage) {
      seen.push({ body: new TextDecoder().decode(m.data), m });
      for (const w of [...waits]) if (w.pred()) { waits.splice(waits.indexOf(w), 1); w.resolve(); }
    },
    until(pred: () => boolean): Promise<void> {
      return pred() ? Promise.resolve() : new Promise((resolve) => waits.push({ pred, resolve }));
    },
    bodies: () => seen.map((s) => s.body),
  };
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

t.test('consumer', async (t) => {
  const server = await startNatsServer();
  t.teardown(() => server.stop());
  const link: NatsLink = await connectNats({ url: server.url, jsTimeoutMs: 2_000 });
  t.teardown(() => link.close());
  const subjects = ['a.events', 'b.events', 'c.events', 'd.events', 'e.events', 'f.events', 'f_events'];
  const streams = await ensureStreams(link.jsm, subjects, 'create');
  const opts = (subject: string, more: Partial<ConsumeOptions> = {}): ConsumeOptions => ({ stream: streams[subject] ?? '', errorNakDelayMs: 200, expiresMs: 1_000, ...more });
  const publish = (subject: string, bodies: string[]) =>
    Promise.all(bodies.map((b) => publishEnvelope(link.js, subject, enc(b), {}, `${subject}-${b}`)));

  t.test('in order, acked after the handler, nak redelivers with deliveryCount 2', async (t) => {
    const rec = recorder();
    const sub = await consume(link, 'a.events', async (m) => {
      rec.add(m);
      const body = new TextDecoder().decode(m.data);
      return body === 'm2' && m.deliveryCount === 1 ? 'nak' : 'ack';
    }, opts('a.events'));
    t.teardown(() => sub.stop());
    t.equal(sub.durable, durableNameFor('sagad', 'a.events'));
    await publish('a.events', ['m1', 'm2', 'm3']);
    await rec.until(() => rec.seen.length >= 4);
    t.same(rec.bodies().slice(0, 3), ['m1', 'm2', 'm3'], 'first deliveries in stream order');
    t.match(rec.seen[3], { body: 'm2', m: { deliveryCount: 2, redelivered: true, lastAttempt: false } });
    t.match(rec.seen[0], { m: { deliveryCount: 1, redelivered: false, maxDeliver: 5 } });
    const info = await link.jsm.consumers.info(streams['a.events'] ?? '', sub.durable);
    t.same([info.config.filter_subject, info.config.ack_policy, info.config.max_deliver, info.config.ack_wait], ['a.events', 'explicit', -1, 30_000_000_000],
      'max_deliver unlimited: sagad counts the attempts (maxDeliver 5) itself');
    // The handler saw the redelivery before its ack went out: wait for the server to have it.
    t.ok(await waitFor(async () => (await sub.pending()) === 0, 10_000, { what: 'every message acked' }), 'all acked');
  });

  t.test('a throwing handler does not stall later messages; nak delay is honoured', async (t) => {
    const rec = recorder();
    const sub = await consume(link, 'b.events', async (m) => {
      rec.add(m);
      if (new TextDecoder().decode(m.data) === 'bad' && m.deliveryCount === 1) throw new Error('boom');
      return 'ack';
    }, opts('b.events'));
    t.teardown(() => sub.stop());
    // The nak travels to the server on the message's reply subject; this connection sees its
    // own publishes, so the delay the server was asked for can be read off the wire.
    const naks: string[] = [];
    const acks = link.nc.subscribe(`$JS.ACK.${streams['b.events'] ?? ''}.>`, {
      callback: (_err, m) => { if (m.string().startsWith('-NAK')) naks.push(m.string()); },
    });
    t.teardown(() => acks.unsubscribe());
    await publish('b.events', ['bad', 'ok1', 'ok2']);
    await rec.until(() => rec.seen.length === 4);
    t.same(rec.bodies(), ['bad', 'ok1', 'ok2', 'bad'], 'later messages were handled before the failed one came back');
    t.equal(rec.seen[3]?.m.deliveryCount, 2);
    t.same(naks, [`-NAK ${JSON.stringify({ delay: 200 * 1_000_000 })}`], 'one nak, asking the server to hold the message for errorNakDelayMs');
  });

  t.test('maxDeliver bounds the attempts, counted by sagad; term stops them', async (t) => {
    const rec = recorder();
    const abandoned: number[] = [];
    const sub = await consume(link, 'c.events', async (m): Promise<Verdict> => {
      rec.add(m);
      return new TextDecoder().decode(m.data) === 'poison' ? 'nak' : 'term';
    }, opts('c.events', { maxDeliver: 3, onAbandoned: async (m) => { abandoned.push(m.deliveryCount); return 'ack'; } }));
    t.teardown(() => sub.stop());
    await publish('c.events', ['poison', 'terminal']);
    await until(() => abandoned.length > 0, 'the poison message abandoned');
    const poison = rec.seen.filter((s) => s.body === 'poison').map((s) => [s.m.deliveryCount, s.m.lastAttempt]);
    t.same(poison, [[1, false], [2, false], [3, true], [4, true], [5, true], [6, true]],
      'from delivery maxDeliver on, the last attempt; a nak on it asks for another, up to three more');
    t.same(abandoned, [7], 'the seventh delivery is abandoned, not handled');
    // A message published after both proves the consumer moved on, and that none of them came back.
    await publish('c.events', ['after']);
    await rec.until(() => rec.bodies().includes('after'));
    t.same(rec.bodies().filter((b) => b === 'terminal'), ['terminal'], 'term is not redelivered');
    t.equal(rec.bodies().filter((b) => b === 'poison').length, 6);
  });

  t.test('stop() waits for the handler in flight and naks what was prefetched', async (t) => {
    const rec = recorder();
    const order: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    // An ack_wait far beyond the test's timeout: a prefetched message can only come back to
    // the next consumer because stop() nakked it.
    const longAckWait = { ackWaitMs: 60 * 60_000 };
    const sub = await consume(link, 'd.events', async (m) => {
      rec.add(m);
      await gate;
      order.push('handler done');
      return 'ack';
    }, opts('d.events', longAckWait));
    await publish('d.events', ['slow', 'next1', 'next2']);
    await rec.until(() => rec.seen.length === 1);
    let stopped = false;
    const stopping = sub.stop().then(() => { stopped = true; order.push('stop resolved'); });
    await link.nc.flush(); // a server round trip while the handler is still blocked
    t.notOk(stopped, 'stop() has not resolved while the handler runs');
    release();
    await stopping;
    t.same(order, ['handler done', 'stop resolved']);
    t.same(rec.bodies(), ['slow'], 'nothing else handled after stop');

    const rec2 = recorder();
    const sub2 = await consume(link, 'd.events', async (m) => { rec2.add(m); return 'ack'; }, opts('d.events', longAckWait));
    t.teardown(() => sub2.stop());
    await rec2.until(() => rec2.seen.length === 2);
    t.same(rec2.bodies(), ['next1', 'next2'], 'the prefetched messages come back to the next consumer, well before ack_wait');
  });

  t.test('pending counts unprocessed and unacked messages', async (t) => {
    await publish('e.events', ['1', '2', '3']);
    const rec = recorder();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    const sub = await consume(link, 'e.events', async (m) => { rec.add(m); await gate; return 'ack'; }, opts('e.events', { batchSize: 1 }));
    t.teardown(() => sub.stop());
    await rec.until(() => rec.seen.length === 1);
    t.equal(await sub.pending(), 3, 'one in flight, two waiting');
    release();
    await rec.until(() => rec.seen.length === 3);
    await sub.stop();
    t.equal(await sub.pending(), 0);
  });

  t.test('ensureConsumer updates ack wait and max deliver, and refuses a name used by another filter', async (t) => {
    const stream = streams['f.events'] ?? '';
    const durable = await ensureConsumer(link.jsm, stream, 'f.events');
    t.equal(durable, 'sagad-f_events');
    await link.jsm.consumers.update(stream, durable, { max_deliver: 9 });
    t.equal(await ensureConsumer(link.jsm, stream, 'f.events', { ackWaitMs: 10_000 }), durable);
    const info = await link.jsm.consumers.info(stream, durable);
    t.same([info.config.ack_wait, info.config.max_deliver, info.config.deliver_policy], [10_000_000_000, -1, 'all'], 'updated in place');
    await t.rejects(ensureConsumer(link.jsm, stream, 'f_events'), { code: 'SAGA_ERR_CONSUMER_SETUP', message: /filters f\.events, not f_events/ });
  });

  t.test('its stream gone, the consumer asks for the streams to be set up again and consumes from the stream that now captures the subject', async (t) => {
    const rec = recorder();
    let asked = 0;
    const sub = await consume(link, 'g.events', async (m) => { rec.add(m); return 'ack'; }, {
      stream: (await ensureStreams(link.jsm, ['g.events'], 'create'))['g.events'] ?? '', expiresMs: 1_000,
      onStreamMissing: async () => {
        asked++;
        // Set up again under another name, as a stream made by an operator would be replaced.
        await link.jsm.streams.add({ name: 'G_AGAIN', subjects: ['g.events'] });
        return 'G_AGAIN';
      },
    });
    t.teardown(() => sub.stop());
    await link.jsm.streams.delete('G');
    await waitFor(() => asked > 0 || undefined, 10_000, { what: 'the consumer to find its stream gone' });
    await publishEnvelope(link.js, 'g.events', enc('after'), {}, 'g-after');
    await rec.until(() => rec.bodies().includes('after'));
    t.equal(asked, 1, 'asked once');
    t.ok((await link.jsm.consumers.info('G_AGAIN', sub.durable)).config.filter_subject === 'g.events', 'its consumer made again on the new stream');
  });
});
