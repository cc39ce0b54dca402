/**
 * An outgoing message larger than NATS takes (the server's max_payload, or its stream's
 * max_msg_size) can never be published. The relay used to retry it for ever, and, keeping each
 * instance's rows in order, held that instance's later rows (its compensations) behind it. It
 * is parked in the dead-letter queue instead, out of the outbox in the same transaction, and
 * the rows behind it go on. Real nats-server (with a small max_payload), real SQLite file.
 */
import { join } from 'node:path';
import t from 'tap';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { silentLog, type LogLevel } from '../../engine/log.js';
import { Metrics } from '../../engine/metrics/registry.js';
import { OutboxRelay } from '../../engine/runtime/outbox-relay.js';
import { openStore, type OutboxMessage } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { connectNats } from '../../engine/transport/connection.js';
import { AckPipeline } from '../../engine/transport/pipeline.js';
import { headerBytes } from '../../engine/transport/publish.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';

const MAX_PAYLOAD = 8192;
const nats = await startNatsServer({ config: `max_payload: ${MAX_PAYLOAD}\n` });
t.teardown(() => nats.stop());
const link = await connectNats({ url: nats.url, log: silentLog });
t.teardown(() => link.close());
await link.jsm.streams.add({ name: 'W', subjects: ['w.>'] });
// A stream that takes less than the server does: JetStream refuses what is over it (10054).
await link.jsm.streams.add({ name: 'M', subjects: ['m.>'], max_msg_size: 1000 });
const acks = new AckPipeline(link.nc, 5_000);
t.teardown(() => acks.close());

/** Every message published on `subject`s under `prefix`, by Nats-Msg-Id, as a participant would see them. */
function listen(prefix: string): string[] {
  const got: string[] = [];
  link.nc.subscribe(`${prefix}.>`, { callback: (_err, m) => { got.push(m.headers?.get('Nats-Msg-Id') ?? '?'); } });
  return got;
}

const row = (id: string, instance: string, subject: string, bytes: number): OutboxMessage => ({
  messageId: id, subject, headers: { 'Saga-Id': instance, 'Saga-Step': 'second' }, data: new Uint8Array(bytes).fill(0x61),
});

t.test('the header bytes counted are those nats.js counts against max_payload', async (t) => {
  const h = natsHeaders();
  h.set('Saga-Id', 'i-1');
  h.set('Saga-Step', 'réserve');
  h.set('Nats-Msg-Id', '0192f7e0-0000-7000-8000-000000000000');
  t.equal(headerBytes(h), (h as unknown as { encode(): Uint8Array }).encode().byteLength);
});

t.test('a row over max_payload is parked with its reason, counted and logged once; its instance\'s later rows go on', async (t) => {
  const store = openStore(join(t.testdir(), 'sagad.db'));
  t.teardown(() => store.close());
  const metrics = new Metrics();
  const lines: { level: LogLevel; msg: string; fields: Record<string, unknown> }[] = [];
  const errors: string[] = [];
  const relay = new OutboxRelay(sqlitePort(store), (items) => acks.publishAll(items), (err) => errors.push(String(err)), {
    deadLetters: { log: (level, msg, fields = {}) => lines.push({ level, msg, fields }), counters: metrics, cap: { maxRows: 100, maxBytes: 10_000_000 } },
  });
  const got = listen('w');
  relay.start();
  t.teardown(() => relay.stop());

  // Instance a: a command too large, then (a later commit) its compensation. Instance c: a body
  // under max_payload that its headers take over it. Instance b: nothing to do with either.
  relay.push(store.tx(() => store.enqueue([row('a-1', 'a', 'w.commands', 20_000), row('c-1', 'c', 'w.commands', MAX_PAYLOAD - 10)])));
  relay.push(store.tx(() => store.enqueue([row('a-2', 'a', 'w.undo', 10), row('b-1', 'b', 'w.commands', 10), row('c-2', 'c', 'w.undo', 10)])));
  await until(() => ['a-2', 'b-1', 'c-2'].every((id) => got.includes(id)), 'the rows behind the oversized ones', { withinMs: 10_000 });

  t.same(got.filter((id) => id === 'a-1' || id === 'c-1'), [], 'the oversized rows were never sent');
  const letters = store.listDead().items;
  t.equal(letters.length, 2, 'one letter for each');
  const a = letters.find((l) => l.headers['Saga-Id'] === 'a');
  t.match(a, { subject: 'w.commands', size: 20_000, deliveryCount: 1, headers: { 'Saga-Id': 'a', 'Saga-Step': 'second' } });
  t.match(a?.reason, new RegExp(`^never published: ${20_000 + headerBytes([['Saga-Id', ['a']], ['Saga-Step', ['second']], ['Nats-Msg-Id', ['a-1']]])} bytes \\(headers included\\) to w\\.commands are more than the NATS server's max_payload of ${MAX_PAYLOAD} bytes`), 'the subject, the size and the limit');
  t.match(a?.reason, /times out under its timeout and retry policy/, 'what becomes of the instance');
  t.match(a?.reason, /raise max_payload in the NATS server's configuration, or make the payload smaller/, 'what to do');
  t.match(a?.reason, /A redrive .* fails the same way/, 'a redrive cannot help');
  t.same(Buffer.from(store.getDead(a?.id ?? '')?.data ?? []), Buffer.from(new Uint8Array(20_000).fill(0x61)), 'the body, byte for byte');
  t.match(letters.find((l) => l.headers['Saga-Id'] === 'c'), { size: MAX_PAYLOAD - 10, reason: /max_payload of 8192 bytes/ }, 'headers count');
  await until(() => store.backlog() === 0, 'the outbox to be empty');

  const counted = (await metrics.deadLettered.get()).values.find((v) => v.labels.reason === 'too_large')?.value;
  t.equal(counted, 2, 'sagad_dead_letters_total{reason="too_large"}');
  const told = lines.filter((l) => l.msg === 'outgoing message dead-lettered: larger than NATS takes');
  t.equal(told.length, 1, 'logged once per subject (the second within 10 s is counted in the next line)');
  t.match(told[0], { level: 'error', fields: { subject: 'w.commands', limit: 'max_payload', maxBytes: MAX_PAYLOAD, instance: 'a', step: 'second', deadLetter: a?.id } });
  t.same(errors, [], 'no failure reported, nothing retried');
});

t.test('a row over its stream\'s max_msg_size is parked too; without a place to tell it, it is told through onError', async (t) => {
  const store = openStore(join(t.testdir(), 'sagad.db'));
  t.teardown(() => store.close());
  const errors: string[] = [];
  const relay = new OutboxRelay(sqlitePort(store), (items) => acks.publishAll(items), (err) => errors.push(String(err)));
  const got = listen('m');
  relay.start();
  t.teardown(() => relay.stop());
  relay.push(store.tx(() => store.enqueue([row('m-1', 'x', 'm.commands', 2000)])));
  relay.push(store.tx(() => store.enqueue([row('m-2', 'x', 'm.undo', 10)])));
  await until(() => got.includes('m-2'), 'the compensation behind the refused command', { withinMs: 10_000 });

  // JetStream refused m-1, so a core subscriber saw it published and nothing stored it.
  const [letter] = store.listDead().items;
  t.match(letter, { subject: 'm.commands', size: 2000, reason: /^never published: JetStream refused a body of 2000 bytes to m\.commands: more than the max_msg_size/ });
  t.match(letter?.reason, /raise the stream's max_msg_size \(nats stream edit <stream> --max-msg-size\)/);
  t.equal((await link.jsm.streams.info('M')).state.messages, 1, 'the stream holds the compensation alone');
  await until(() => store.backlog() === 0, 'the outbox to be empty');
  t.equal(errors.length, 1, 'told once');
  t.match(errors[0], new RegExp(`not retried: dead letter ${letter?.id} \\(x\\): never published`));
});
