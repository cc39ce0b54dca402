/**
 * Every sagactl command against a live server started here: a real nats-server, a sagad
 * process, and the demo participants as a process; then --db on its database, while it runs
 * and after it stopped.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import t from 'tap';
import type { DeadLetterDocument, InstanceDocument, InstanceSummaryDocument } from '../../engine/api/index.js';
import { connectNats } from '../../engine/transport/connection.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { unitHash } from '../../sagas/demo/participants.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { startSagad, waitFor, type Sagad } from '../helpers/sagad.js';
import { orderInput, root, tripInput } from './fixture.js';
import { cli, type TermOptions } from './helpers.js';
import { closedPort, startParticipants, type Participants } from './processes.js';

const dir = t.testdir();
const db = join(dir, 'sagad.db');
const defsFile = join(dir, 'saga-definitions.yaml');
writeFileSync(defsFile, `version: 1\ninclude: [${join(root, 'sagas/order-fulfillment.yaml')}, ${join(root, 'sagas/trip-booking.yaml')}]\n`);
const token = 'cli-test-token';

const partEnv = { DEMO_LEDGER: join(dir, 'ledger.jsonl'), DEMO_FAIL_RATE: '0.5', DEMO_OUT_OF_STOCK_RATE: '0' };
const nats = await startNatsServer();
let sagad: Sagad;
let participants: Participants;
try {
  sagad = await startSagad({ natsUrl: nats.url, dbFile: db, definitions: defsFile, env: { SAGA_API_TOKEN: token } });
} catch (err) {
  await nats.stop();
  throw err;
}
try {
  participants = await startParticipants(nats.url, partEnv);
} catch (err) {
  await sagad.stop();
  await nats.stop();
  throw err;
}
t.teardown(async () => {
  await participants.stop();
  await sagad.stop();
  await nats.stop();
});

const env = { SAGA_SERVER: sagad.url, SAGA_API_TOKEN: token };
const sh = (args: string[], o: TermOptions = {}) => cli(args, { env, ...o });
const json = <T>(s: string): T => JSON.parse(s) as T;
const api = async <T>(path: string): Promise<T> => (await fetch(`${sagad.url}${path}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<T>;

// Payment is declined (and the order compensated) for orders whose hash falls under the fail rate.
const orders = Array.from({ length: 8 }, (_, i) => `order-${i + 1}`);
const declined = new Set(orders.filter((o) => unitHash(`pay:${o}`) < 0.5));
const ids = new Map<string, string>();
let tripId = '';

const ended = (s: string) => s === 'completed' || s === 'compensated' || s === 'failed';

t.test('start: new instances, the same id again, input from a file, and refusals', async (t) => {
  t.ok(declined.size > 0 && declined.size < orders.length, 'some orders are declined, some not');
  for (const o of orders) {
    const r = await sh(['start', 'order-fulfillment', '--input', JSON.stringify(orderInput(o)), '-o', 'json']);
    t.equal(r.code, 0, r.err);
    const doc = json<InstanceDocument>(r.out);
    t.match(doc, { saga: 'order-fulfillment', key: o, state: 'running' });
    ids.set(o, doc.id);
  }
  const again = await sh(['start', 'order-fulfillment', '--input', JSON.stringify(orderInput('order-1'))]);
  t.equal(again.code, 0);
  t.match(again.out, `Already started: ${ids.get('order-1')} (order-fulfillment, key order-1) has this id or key`);

  const inputFile = join(dir, 'trip.json');
  writeFileSync(inputFile, JSON.stringify(tripInput('trip-1')));
  const trip = await sh(['start', 'trip-booking', '--input', `@${inputFile}`, '--id', 'trip-one']);
  t.equal(trip.code, 0, trip.err);
  t.match(trip.out, /^Started trip-one \(trip-booking, key trip-1\): running; watch it with: sagactl history trip-one --follow\n$/);
  tripId = 'trip-one';

  const unknown = await sh(['start', 'nope', '--input', '{}']);
  t.equal(unknown.code, 1);
  t.match(unknown.err, /^sagactl: no saga named nope is loaded \(loaded: order-fulfillment, trip-booking\)\nHint: `sagactl defs list` shows/);
  const badJson = await sh(['start', 'order-fulfillment', '--input', '{orderId:1}']);
  t.equal(badJson.code, 2);
  t.match(badJson.err, /the --input value is not JSON/);
  const missing = await sh(['start', 'order-fulfillment', '--input', '@/nonexistent/order.json']);
  t.equal(missing.code, 1);
  t.match(missing.err, /cannot read the input file \/nonexistent\/order\.json \(ENOENT\)/);
  const noInput = await sh(['start', 'order-fulfillment']);
  t.equal(noInput.code, 2);
  t.match(noInput.err, /required option '-i, --input <json>' not specified/);
  const refused = await sh(['start', 'order-fulfillment', '--input', '{"customerId":"c"}']);
  t.equal(refused.code, 1);
  t.match(refused.err, /the server refused the start: cannot compute the key/);

  await waitFor(async () => {
    const all = json<{ items: InstanceSummaryDocument[] }>((await sh(['list', '--saga', 'order-fulfillment', '--all', '-o', 'json'])).out).items;
    return all.length === orders.length && all.every((i) => ended(i.state));
  }, 30_000, { what: 'every order to end' });
});

t.test('list: filters, paging through nextCursor, formats', async (t) => {
  const compensated = json<{ items: InstanceSummaryDocument[]; nextCursor: null }>((await sh(['list', '--saga', 'order-fulfillment', '--state', 'compensated', '-o', 'json'])).out);
  t.strictSame(new Set(compensated.items.map((i) => i.key)), declined, 'exactly the declined orders');
  t.equal(compensated.nextCursor, null);
  t.strictSame(json<{ items: InstanceSummaryDocument[] }>((await sh(['list', '--saga', 'trip-booking', '-o', 'json'])).out).items.map((i) => i.id), [tripId]);
  t.strictSame(json<{ items: InstanceSummaryDocument[] }>((await sh(['list', '--key', 'order-3', '-o', 'json'])).out).items.map((i) => i.id), [ids.get('order-3')]);

  const first = await sh(['list', '--limit', '4']);
  t.equal(first.out.trim().split('\n').length, 5);
  const cursor = /--cursor (\S+)/.exec(first.err)?.[1];
  t.ok(cursor, first.err);
  const rest = json<{ items: InstanceSummaryDocument[]; nextCursor: string | null }>((await sh(['list', '--limit', '100', '--cursor', cursor ?? '', '-o', 'json'])).out);
  t.equal(rest.items.length, orders.length + 1 - 4);
  t.equal(rest.nextCursor, null);
  const all = await sh(['list', '--all', '-o', 'jsonl']);
  const lines = all.out.trim().split('\n').map((l) => json<InstanceSummaryDocument>(l));
  t.equal(lines.length, orders.length + 1);
  t.strictSame(lines.map((l) => Object.keys(l).sort()), lines.map(() => ['correlationId', 'createdAt', 'definitionHash', 'id', 'key', 'saga', 'state', 'updatedAt']));
  const paged = json<{ items: InstanceSummaryDocument[] }>((await sh(['list', '--limit', '3', '-o', 'json'])).out);
  t.equal(paged.items.length, 3);
  t.equal(json<{ items: unknown[] }>((await sh(['list', '--since', '1h', '-o', 'json'])).out).items.length, orders.length + 1);
  t.equal((await sh(['list', '--since', '2099-01-01T00:00:00Z'])).out, `No instances match in sagad at ${sagad.url}.\n`);
  t.equal((await sh(['list', '--until', '2000-01-01T00:00:00Z'])).out, `No instances match in sagad at ${sagad.url}.\n`, '--until before every instance');
  t.equal(json<{ items: unknown[] }>((await sh(['list', '--since', '1h', '--until', '2099-01-01T00:00:00Z', '-o', 'json'])).out).items.length, orders.length + 1, 'a time range');
  const table = await sh(['list', '--saga', 'order-fulfillment', '--state', 'completed']);
  t.match(table.out, /^ID\s+SAGA\s+KEY\s+STATE\s+AGE\s+UPDATED\n/);
  t.equal(table.out.trim().split('\n').length, 1 + orders.length - declined.size);
  for (const bad of [['--limit', '0'], ['--limit', 'ten'], ['--state', 'done'], ['--since', 'yesterday']]) {
    const r = await sh(['list', ...bad]);
    t.equal(r.code, 2, bad.join(' '));
  }
  const badCursor = await sh(['list', '--cursor', 'garbage']);
  t.equal(badCursor.code, 2);
  t.match(badCursor.err, /the --cursor was not handed out by this list/);
});

t.test('describe, history and stats: tables, and json that is the API\'s documents', async (t) => {
  const id = ids.get([...declined][0] ?? '') ?? '';
  const table = await sh(['describe', id]);
  t.equal(table.code, 0, table.err);
  t.match(table.out, /State:\s+compensated/);
  t.match(table.out, /reserve-inventory\s+compensated\s+1\/3/);
  t.match(table.out, /↳ compensation\s+compensated\s+1\/10/);
  t.match(table.out, /charge-payment\s+failed\s+1\/3 .*PaymentDeclined/);
  t.match(table.out, /ship-order\s+pending/);
  const doc = json<InstanceDocument>((await sh(['describe', id, '-o', 'json'])).out);
  t.strictSame(doc, await api(`/v1/instances/${id}`), 'the API document, unchanged');
  t.strictSame(doc.timers, [], 'an ended instance has no timers');

  const history = await sh(['history', id]);
  t.match(history.out, /^ SEQ {8}AT {2}EVENT/);
  t.match(history.out, /\n +1 +\+0ms +SagaStarted +key order-\d/);
  t.match(history.out, /StepFailed +charge-payment failed: reply PaymentDeclined/);
  t.match(history.out, /SagaCompensated\n$/);
  t.strictSame(json((await sh(['history', id, '-o', 'json'])).out), await api(`/v1/instances/${id}/history`));
  const followed = await sh(['history', id, '--follow', '-o', 'jsonl']);
  t.equal(followed.code, 0, 'an ended instance: --follow prints and returns');
  t.equal(followed.out.trim().split('\n').length, json<{ items: unknown[] }>((await sh(['history', id, '-o', 'json'])).out).items.length);

  const stats = json<{ instances: { saga: string; state: string; count: number }[]; deadLetters: number; consumerLag: number }>((await sh(['stats', '-o', 'json'])).out);
  t.match(stats.instances, [
    { saga: 'order-fulfillment', state: 'compensated', count: declined.size },
    { saga: 'order-fulfillment', state: 'completed', count: orders.length - declined.size },
    { saga: 'trip-booking', state: 'running', count: 1 },
  ]);
  t.type(stats.consumerLag, 'number');
  t.strictSame(stats, await api('/v1/stats'));
  const table2 = await sh(['stats']);
  t.match(table2.out, new RegExp(`order-fulfillment +0 +0 +${orders.length - declined.size} +${declined.size} +0 +${orders.length}`));
  t.match(table2.out, /Timers pending:\s+\d+\nOutbox backlog:\s+\d+\nDead letters:\s+\d+\nConsumer lag:\s+\d+/);
});

t.test('why: a running instance with parallel steps in flight', async (t) => {
  const r = await sh(['why', tripId], { columns: 100, tty: true });
  t.equal(r.code, 0, r.err);
  t.match(r.out, /trip-booking instance trip-one is running\. 2 steps run in parallel\./);
  t.match(r.out.replace(/\n/g, ' '), /for step book-flight, attempt 1 of 4/);
  t.match(r.out.replace(/\n/g, ' '), /for step book-hotel, attempt 1 of 4/);
  t.match(r.out.replace(/\n/g, ' '), /sagactl cancel trip-one --reason/);
  const facts = json<{ waitingFor: string; steps: { step: string; next: { kind: string } }[] }>((await sh(['why', tripId, '-o', 'json'])).out);
  t.equal(facts.waitingFor, 'reply');
  t.match(facts.steps, [{ step: 'book-flight', next: { kind: 'attempt_timeout' } }, { step: 'book-hotel', next: { kind: 'attempt_timeout' } }]);
  const done = await sh(['why', ids.get('order-1') ?? '']);
  t.match(done.out, /is waiting for nothing/);
});

t.test('acting on one instance: refusals say why and what to do', async (t) => {
  const completed = ids.get(orders.find((o) => !declined.has(o)) ?? '') ?? '';
  const unknown = await sh(['cancel', 'nope', '--reason', 'x']);
  t.equal(unknown.code, 1);
  t.equal(unknown.err, `sagactl: no instance nope on sagad at ${sagad.url}\nHint: \`sagactl list\` shows the instances; ids are matched exactly\n`);
  const done = await sh(['cancel', completed, '--reason', 'too late']);
  t.equal(done.code, 1);
  t.match(done.err, `sagactl: instance ${completed} is completed; only a running instance can be cancelled\nHint: \`sagactl why ${completed}\``);
  const retry = await sh(['retry', completed]);
  t.equal(retry.code, 1);
  t.match(retry.err, /only a failed instance can be retried/);
  t.equal((await sh(['retry', 'nope'])).code, 1);
  const noReason = await sh(['cancel', completed]);
  t.equal(noReason.code, 2);
  t.match(noReason.err, /required option '--reason <text>' not specified/);
  const both = await sh(['cancel', completed, '--saga', 'order-fulfillment', '--reason', 'x']);
  t.equal(both.code, 2);
  t.match(both.err, /give either an instance ID or --saga\/--state\/--key to cancel, not both/);
  const neither = await sh(['retry']);
  t.equal(neither.code, 2);
  t.match(neither.err, /retry needs an instance ID, or --saga NAME to retry many/);
});

t.test('bulk cancel and retry: show what they touch, ask on a terminal, refuse without one', async (t) => {
  const noTty = await sh(['cancel', '--saga', 'trip-booking', '--reason', 'bulk test']);
  t.equal(noTty.code, 2);
  t.match(noTty.out, /Cancel would touch 1 running instances of trip-booking:\nID .*\ntrip-one /);
  t.match(noTty.err, /refusing to cancel 1 instances without confirmation: there is no terminal to ask on\nHint: Add --yes/);
  const declinedAnswer = await sh(['cancel', '--saga', 'trip-booking', '--reason', 'bulk test'], { answers: ['n'] });
  t.equal(declinedAnswer.code, 1);
  t.strictSame(declinedAnswer.asked, ['Cancel these 1 instances? [y/N] ']);
  t.equal(declinedAnswer.err, 'Nothing done.\n');
  t.equal(json<InstanceDocument>((await sh(['describe', tripId, '-o', 'json'])).out).state, 'running', 'still running');
  const yes = await sh(['cancel', '--saga', 'trip-booking', '--reason', 'bulk test'], { answers: ['y'] });
  t.equal(yes.code, 0, yes.err);
  t.match(yes.out, /trip-one\s+compensating\s+-\nCancelled 1 of 1\.\n$/);
  t.match(json<InstanceDocument>((await sh(['describe', tripId, '-o', 'json'])).out), { state: 'compensating', reason: 'cancelled: bulk test' });

  const none = await sh(['cancel', '--saga', 'order-fulfillment', '--reason', 'x', '--yes']);
  t.equal(none.code, 0);
  t.equal(none.out, 'No running instances of order-fulfillment; nothing to cancel.\n');
  const retryNone = await sh(['retry', '--saga', 'order-fulfillment', '--yes', '-o', 'json']);
  t.equal(retryNone.code, 0);
  t.strictSame(json(retryNone.out), { items: [] });
});

t.test('dead letters: list, show, redrive, purge', async (t) => {
  const link = await connectNats({ url: nats.url });
  t.teardown(() => link.close());
  await publishEnvelope(link.js, 'inventory.events', new TextEncoder().encode('this is not an envelope'), {}, 'garbage-1');
  const letters = await waitFor(async () => {
    const page = json<{ items: DeadLetterDocument[] }>((await sh(['dlq', 'list', '-o', 'json'])).out);
    return page.items.length > 0 ? page.items : undefined;
  }, 15_000, { what: 'a dead letter' });
  const id = letters[0]?.id ?? '';
  const table = await sh(['dlq', 'list']);
  t.match(table.out, new RegExp(`^ID +SUBJECT +REASON +AGE +DELIVERIES +REDRIVEN\\n +${id} +inventory\\.events +not a JSON envelope`));
  const show = await sh(['dlq', 'show', id]);
  t.match(show.out, /Subject:\s+inventory\.events\nReason:\s+not a JSON envelope.*\n[\s\S]*Message \(23 bytes\):\nthis is not an envelope\n$/);
  const redrive = await sh(['dlq', 'redrive', id]);
  t.equal(redrive.code, 0, redrive.err);
  t.match(redrive.out, `Redrove dead letter ${id}: published again on inventory.events.`);
  await waitFor(async () => json<{ items: DeadLetterDocument[] }>((await sh(['dlq', 'list', '-o', 'json'])).out).items.length === 2, 15_000, { what: 'the redriven letter to come back' });
  t.match(json<DeadLetterDocument>((await sh(['dlq', 'show', id, '-o', 'json'])).out), { id, redrivenAt: String });
  const purge = await sh(['dlq', 'purge', id]);
  t.equal(purge.out, `Purged dead letter ${id}.\n`);
  const gone = await sh(['dlq', 'show', id]);
  t.equal(gone.code, 1);
  t.equal(gone.err, `sagactl: no dead letter ${id} on sagad at ${sagad.url}\nHint: \`sagactl dlq list\` shows the dead letters and their ids\n`);
  t.equal((await sh(['dlq', 'purge', id])).code, 1);
  t.equal((await sh(['dlq'])).code, 2, 'a group without its subcommand is a usage error');
});

t.test('definitions from the server', async (t) => {
  const list = await sh(['defs', 'list']);
  t.match(list.out, /order-fulfillment +[0-9a-f]{12} +reserve-inventory > charge-payment > ship-order/);
  t.match(list.out, /trip-booking +[0-9a-f]{12} +book-travel\(book-flight \| book-hotel\)/);
  const show = await sh(['defs', 'show', 'order-fulfillment']);
  t.match(show.out, /reserve-inventory +inventory\.commands ReserveInventory/);
  const hash = json<InstanceDocument>((await sh(['describe', tripId, '-o', 'json'])).out).definitionHash;
  t.match(json((await sh(['defs', 'show', 'trip-booking', '--hash', hash, '-o', 'json'])).out), { name: 'trip-booking', hash });
  t.match(json((await sh(['defs', 'show', 'trip-booking', '--hash', hash.slice(0, 12), '-o', 'json'])).out), { name: 'trip-booking', hash }, 'the 12 characters the lists show');
  const other = await sh(['defs', 'show', 'order-fulfillment', '--hash', hash.slice(0, 12)]);
  t.equal(other.code, 1);
  t.equal(other.err, `sagactl: sagad at ${sagad.url} has no definition of order-fulfillment whose hash is or starts with ${hash.slice(0, 12)}\nHint: \`sagactl defs list\` shows the loaded sagas and their hashes\n`);
  const nope = await sh(['defs', 'show', 'nope']);
  t.equal(nope.code, 1);
  t.equal(nope.err, `sagactl: sagad at ${sagad.url} has no saga nope\nHint: \`sagactl defs list\` shows the loaded sagas and their hashes\n`);
  t.equal((await sh(['defs', 'validate', defsFile])).code, 0);
});

t.test('errors: no token, server unreachable, bad URL, usage', async (t) => {
  const noToken = await cli(['list'], { env: { SAGA_SERVER: sagad.url } });
  t.equal(noToken.code, 1);
  t.match(noToken.err, /^sagactl: sagad at http:\/\/127\.0\.0\.1:\d+ refused the request: this route needs the header Authorization: Bearer <token>\nHint: Pass the API token with --token TOKEN or SAGA_API_TOKEN=TOKEN\n$/);
  t.equal((await cli(['list', '--token', token, '--server', sagad.url])).code, 0, '--token and --server flags');
  const port = await closedPort();
  const down = await sh(['list', '--server', `http://127.0.0.1:${port}`]);
  t.equal(down.code, 1);
  t.equal(down.err, `sagactl: cannot reach sagad at http://127.0.0.1:${port} (connection refused)\nHint: Is sagad running there? Start it with npm start, or point sagactl elsewhere with --server URL or SAGA_SERVER=URL, or read a database offline with --db FILE (or --db postgres://...)\n`);
  t.notMatch(down.err, /\n\s+at /, 'no stack trace');
  const byEnv = await cli(['stats'], { env: { SAGA_SERVER: `http://127.0.0.1:${port}` } });
  t.match(byEnv.err, `cannot reach sagad at http://127.0.0.1:${port}`);
  const defaultServer = await cli(['stats'], { env: {} });
  t.match(defaultServer.err, /sagad at http:\/\/127\.0\.0\.1:8080/, 'the default address is named');
  const badUrl = await sh(['list', '--server', 'not a url']);
  t.equal(badUrl.code, 2);
  t.match(badUrl.err, /"not a url" is not a server URL/);
  t.equal((await sh(['frobnicate'])).code, 2);
  t.equal((await sh(['list', '-o', 'yaml'])).code, 2);
  t.equal((await sh(['describe'])).code, 2);
  const noDb = await sh(['list', '--db', join(dir, 'missing.db')]);
  t.equal(noDb.code, 1);
  t.match(noDb.err, /the database .*missing\.db does not exist/);
  const notDb = await sh(['list', '--db', defsFile]);
  t.equal(notDb.code, 1);
  t.match(notDb.err, /^sagactl: cannot read .*saga-definitions\.yaml as a sagad database/);
});

t.test('--db while the server runs: the same documents, read-only', async (t) => {
  const id = ids.get('order-2') ?? '';
  t.strictSame(json((await sh(['describe', id, '--db', db, '-o', 'json'])).out), json((await sh(['describe', id, '-o', 'json'])).out));
  t.strictSame(json((await sh(['history', id, '--db', db, '-o', 'json'])).out), json((await sh(['history', id, '-o', 'json'])).out));
  const online = json<{ items: InstanceSummaryDocument[] }>((await sh(['list', '--saga', 'order-fulfillment', '--all', '-o', 'json'])).out);
  t.strictSame(json((await sh(['list', '--saga', 'order-fulfillment', '--all', '--db', db, '-o', 'json'])).out), online);
  const stats = json<{ instances: unknown[]; consumerLag: null }>((await sh(['stats', '--db', db, '-o', 'json'])).out);
  t.equal(stats.consumerLag, null);
  t.match((await sh(['why', tripId, '--db', db])).out, /trip-booking instance trip-one is compensating because cancelled: bulk test/);
  const missing = await sh(['describe', 'nope', '--db', db]);
  t.equal(missing.err, `sagactl: no instance nope in database ${db}\nHint: \`sagactl list --db ${db}\` shows the instances; ids are matched exactly. `
    + `If retention archived it: \`sagactl describe nope --archive ${join(dirname(db), 'archive')}\` (or the server's SAGA_ARCHIVE_DIR, if it sets one)\n`);
  t.equal((await sh(['cancel', id, '--reason', 'x', '--db', db])).code, 2, 'acts have no --db');
});

t.test('the operator round of issue 4', async (t) => {
  // List the compensated instances of a saga and get exactly those.
  const listed = await sh(['list', '--saga', 'order-fulfillment', '--state', 'compensated']);
  t.equal(listed.code, 0);
  const rows = listed.out.trim().split('\n').slice(1);
  t.strictSame(new Set(rows.map((r) => r.split(/\s+/)[2])), declined);
  t.ok(rows.every((r) => /\bcompensated\b/.test(r)));

  // Describe one and see every step and its compensation.
  const id = rows[0]?.split(/\s+/)[0] ?? '';
  const described = await sh(['describe', id]);
  for (const step of ['reserve-inventory', 'charge-payment', 'ship-order']) t.match(described.out, new RegExp(`\\n${step} `));
  t.match(described.out, /\n {2}↳ compensation +compensated/);

  // Read its history.
  const history = await sh(['history', id]);
  t.match(history.out, /SagaStarted[\s\S]*CompensationStarted[\s\S]*StepCompensated[\s\S]*SagaCompensated/);

  // Ask why of a running instance and be told the step it waits on.
  await participants.stop();
  const started = json<InstanceDocument>((await sh(['start', 'order-fulfillment', '--input', JSON.stringify(orderInput('order-late')), '-o', 'json'])).out);
  const why = await sh(['why', started.id]);
  t.match(why.out, /is running\. It is waiting for the reply \(InventoryReserved\) on inventory\.events to its ReserveInventory command for step reserve-inventory, attempt \d of 3/);
  t.match(why.out, /check the service that consumes inventory\.commands/);

  // Cancel it and watch it compensate.
  const cancelled = await sh(['cancel', started.id, '--reason', 'customer called']);
  t.equal(cancelled.code, 0, cancelled.err);
  t.match(cancelled.out, `Cancelled ${started.id}: it is compensating now`);
  participants = await startParticipants(nats.url, partEnv);
  const follow = await sh(['history', started.id, '--follow', '--interval', '200ms'], { sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });
  t.equal(follow.code, 0, follow.err);
  t.match(follow.out, /CompensationStarted +cancelled: customer called[\s\S]*StepCompensated +reserve-inventory\n[\s\S]*SagaCompensated\n$/);
  t.equal(follow.err, 'The instance is compensated; stopped following.\n');

  // List dead letters.
  const dlq = await sh(['dlq', 'list']);
  t.equal(dlq.code, 0);
  t.match(dlq.out, /inventory\.events +not a JSON envelope/);

  // Read the same instances offline.
  const offline = await sh(['list', '--saga', 'order-fulfillment', '--state', 'compensated', '--db', db]);
  t.equal(offline.out.trim().split('\n').length, rows.length + 2, 'the declined ones and the cancelled one');
  t.strictSame(json((await sh(['describe', id, '--db', db, '-o', 'json'])).out), json((await sh(['describe', id, '-o', 'json'])).out));

  // A clear one-line error for an unknown id.
  const unknown = await sh(['describe', '01a218ff-0000-7000-8000-000000000000']);
  t.equal(unknown.code, 1);
  t.equal(unknown.err.split('\n')[0], `sagactl: no instance 01a218ff-0000-7000-8000-000000000000 in sagad at ${sagad.url}`);
});

t.test('--db after the server stopped', async (t) => {
  const id = ids.get('order-2') ?? '';
  const before = json((await sh(['describe', id, '-o', 'json'])).out);
  t.equal(await sagad.stop(), 0);
  t.strictSame(json((await sh(['describe', id, '--db', db, '-o', 'json'])).out), before);
  for (const args of [['list'], ['history', id], ['why', id], ['stats'], ['describe', tripId]]) {
    const r = await sh([...args, '--db', db]);
    t.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
  }
  const down = await sh(['describe', id]);
  t.equal(down.code, 1);
  t.match(down.err, `cannot reach sagad at ${sagad.url}`);
});
