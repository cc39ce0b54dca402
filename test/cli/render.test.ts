/**
 * Table output pinned by snapshots: sagactl reads a database filled deterministically (fixed
 * clock and ids) with --db, at a fixed terminal width, so every byte is stable.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { DeadLetterDocument } from '../../engine/api/index.js';
import { makeStyle } from '../../cli/render/style.js';
import { deadLetterTable, deadLetterText } from '../../cli/views/dlq.js';
import { Fixture, fillScenarios, root } from './fixture.js';
import { cli, type TermOptions } from './helpers.js';

const dir = t.testdir();
const db = join(dir, 'sagad.db');
const f = new Fixture(db);
fillScenarios(f);
const now = f.now;
f.close();
const term: TermOptions = { now, columns: 120, tty: true, env: { NO_COLOR: '1' } };
const run = (args: string[], o: TermOptions = {}) => cli([...args, '--db', db], { ...term, ...o });
const before = readFileSync(db);
const esc = '\u001b';

t.test('list: every instance, filters, paging', async (t) => {
  const all = await run(['list']);
  t.equal(all.code, 0, all.err);
  t.matchSnapshot(all.out, 'list');
  t.matchSnapshot((await run(['list', '--state', 'running'])).out, 'list --state running');
  t.matchSnapshot((await run(['list', '--saga', 'trip-booking'])).out, 'list --saga trip-booking');
  const page = await run(['list', '--limit', '3']);
  t.equal(page.out.trim().split('\n').length, 4, 'header and three rows');
  t.match(page.err, /Showing the newest 3; there are more: add --all, raise --limit, or continue with --cursor (\S+)/);
  const cursor = /--cursor (\S+)/.exec(page.err)?.[1] ?? '';
  const next = await run(['list', '--limit', '3', '--cursor', cursor]);
  t.matchSnapshot(next.out, 'list --limit 3 --cursor (second page)');
  const none = await run(['list', '--state', 'completed', '--saga', 'trip-booking']);
  t.equal(none.out, `No instances match in database ${db}.\n`);
});

t.test('describe: fields, steps with attempts n/N, compensation rows, timers', async (t) => {
  for (const id of ['ord-completed', 'ord-compensated', 'ord-stuck', 'ord-retried', 'ord-cancelled', 'trip-parallel', 'trip-waiting']) {
    const r = await run(['describe', id]);
    t.equal(r.code, 0, r.err);
    t.matchSnapshot(r.out, `describe ${id}`);
  }
  t.matchSnapshot((await run(['describe', 'ord-stuck'], { columns: 72 })).out, 'describe ord-stuck at 72 columns');
});

t.test('colour only on a terminal without NO_COLOR', async (t) => {
  const coloured = await run(['describe', 'ord-compensated'], { env: {} });
  t.ok(coloured.out.includes(`${esc}[33mcompensated${esc}[39m`), 'states in colour');
  t.matchSnapshot(coloured.out, 'describe ord-compensated in colour');
  const plainOf = async (args: string[], o: TermOptions) => (await run(args, o)).out.includes(esc);
  t.notOk(await plainOf(['describe', 'ord-compensated'], { env: { NO_COLOR: '1' } }), 'NO_COLOR');
  t.notOk(await plainOf(['describe', 'ord-compensated'], { tty: false, env: {} }), 'not a terminal');
  t.notOk(await plainOf(['describe', 'ord-compensated', '--no-color'], { env: {} }), '--no-color');
  t.notOk(await plainOf(['describe', 'ord-compensated', '-o', 'json'], { env: {} }), 'never in JSON');
});

t.test('history: the journal with offsets from the start', async (t) => {
  t.matchSnapshot((await run(['history', 'ord-compensated'])).out, 'history ord-compensated');
  t.matchSnapshot((await run(['history', 'ord-cancelled'])).out, 'history ord-cancelled');
  const stuck = await run(['history', 'ord-stuck'], { columns: 90 });
  t.ok(stuck.out.split('\n').every((l) => [...l].length <= 90), 'fits 90 columns');
  t.matchSnapshot(stuck.out, 'history ord-stuck at 90 columns');
});

t.test('why: one paragraph, wrapped to the terminal', async (t) => {
  for (const id of ['ord-retried', 'trip-waiting', 'ord-cancelled', 'ord-stuck', 'ord-completed']) {
    const r = await run(['why', id], { columns: 100 });
    t.equal(r.code, 0, r.err);
    t.ok(r.out.split('\n').every((l) => l.length <= 100), 'fits');
    t.matchSnapshot(r.out, `why ${id}`);
  }
});

t.test('stats', async (t) => {
  const r = await run(['stats']);
  t.matchSnapshot(r.out, 'stats');
  const json = JSON.parse((await run(['stats', '-o', 'json'])).out) as Record<string, unknown>;
  t.match(json, { timersPending: Number, outboxBacklog: Number, deadLetters: 0, consumerLag: null });
});

t.test('the database is only read', async (t) => {
  t.ok(readFileSync(db).equals(before), 'not a byte changed');
  // SQLite may create its shared-memory index (-shm) to read a WAL database; it never writes a journal.
  const wal = join(dir, 'sagad.db-wal');
  t.ok(!existsSync(wal) || statSync(wal).size === 0, 'no write-ahead log with content');
});

t.test('definitions from files: list, show, diff', async (t) => {
  const defs = join(root, 'sagas');
  t.matchSnapshot((await cli(['defs', 'list', '--file', join(defs, 'trip-booking.yaml')], term)).out, 'defs list --file');
  t.matchSnapshot((await cli(['defs', 'show', 'order-fulfillment', '--file', join(defs, 'order-fulfillment.yaml')], term)).out, 'defs show order-fulfillment');
  t.matchSnapshot((await cli(['defs', 'show', 'trip-booking', '--file', join(defs, 'trip-booking.yaml')], { ...term, columns: 160 })).out, 'defs show trip-booking');

  const work = t.testdir();
  mkdirSync(join(work, 'schemas'));
  for (const n of readdirSync(join(defs, 'schemas'))) copyFileSync(join(defs, 'schemas', n), join(work, 'schemas', n));
  const order = readFileSync(join(defs, 'order-fulfillment.yaml'), 'utf8');
  const trip = readFileSync(join(defs, 'trip-booking.yaml'), 'utf8');
  writeFileSync(join(work, 'old.yaml'), `${order}\n${trip.replace(/^version: 1\nsagas:\n/m, '')}`);
  const changed = order
    .replace('timeout: 10m', 'timeout: 15m')
    .replace('timeout: 10s', 'timeout: 20s')
    .replace('retry: { maxAttempts: 10, initialInterval: 1s, maxInterval: 1m }', 'retry: { maxAttempts: 20, initialInterval: 1s, maxInterval: 1m }')
    .replace('currency: EUR', 'currency: "{% $input.currency %}"')
    .replace('      - name: ship-order\n', [
      '      - name: gift-wrap',
      '        command: { subject: gifts.commands, type: WrapGift, payload: { orderId: "{% $input.orderId %}" } }',
      '        reply: { subject: gifts.events, success: [GiftWrapped] }',
      '        compensate:',
      '          command: { subject: gifts.commands, type: UnwrapGift, payload: { orderId: "{% $input.orderId %}" } }',
      '          reply: { subject: gifts.events, success: [GiftUnwrapped] }',
      '',
      '      - name: ship-order',
      '',
    ].join('\n'))
    .replace('  - name: order-fulfillment', [
      '  - name: refund-only',
      '    steps:',
      '      - name: refund',
      '        pivot: true',
      '        timeout: 5s',
      '        retry: { maxAttempts: unlimited }',
      '        command: { subject: payments.commands, type: RefundPayment }',
      '        reply: { subject: payments.events, success: [PaymentRefunded] }',
      '  - name: order-fulfillment',
    ].join('\n'));
  writeFileSync(join(work, 'new.yaml'), changed);
  const diff = await cli(['defs', 'diff', join(work, 'old.yaml'), join(work, 'new.yaml')], term);
  t.equal(diff.code, 0, diff.err);
  t.matchSnapshot(diff.out, 'defs diff');
  const json = JSON.parse((await cli(['defs', 'diff', join(work, 'old.yaml'), join(work, 'new.yaml'), '-o', 'json'], term)).out) as { sagas: { saga: string; change: string }[] };
  t.strictSame(json.sagas.map((s) => [s.saga, s.change]), [['refund-only', 'added'], ['order-fulfillment', 'changed'], ['trip-booking', 'removed']]);
  const same = await cli(['defs', 'diff', join(work, 'old.yaml'), join(work, 'old.yaml')], term);
  t.equal(same.out, 'No differences.\nunchanged: order-fulfillment, trip-booking\n');
  const bad = await cli(['defs', 'diff', join(work, 'old.yaml'), join(work, 'missing.yaml')], term);
  t.equal(bad.code, 1);
  t.match(bad.err, /missing\.yaml is not a valid definitions file/);
});

t.test('dead letters (pure views)', async (t) => {
  const o = { now, width: 100, style: makeStyle(false) };
  const letters: DeadLetterDocument[] = [
    { id: '2', subject: 'payments.events', reason: 'not a JSON envelope: The encoded data was not valid for encoding utf-8', receivedAt: new Date(now - 65_000).toISOString(), deliveryCount: 1, redrivenAt: null, redrivenBy: null, headers: {}, data: Buffer.from([0xff, 0xfe]).toString('base64'), text: null },
    { id: '1', subject: 'inventory.events', reason: 'invalid InventoryReserved@1: must have required property reservationId', receivedAt: new Date(now - 3_600_000).toISOString(), deliveryCount: 5, redrivenAt: new Date(now - 60_000).toISOString(), redrivenBy: 'admin', headers: { 'Nats-Msg-Id': 'abc' }, data: Buffer.from('{"eventType":"InventoryReserved"}').toString('base64'), text: '{"eventType":"InventoryReserved"}' },
  ];
  t.matchSnapshot(deadLetterTable(letters, o), 'dlq list');
  t.matchSnapshot(deadLetterText(letters[0] as DeadLetterDocument, o), 'dlq show binary');
  t.matchSnapshot(deadLetterText(letters[1] as DeadLetterDocument, o), 'dlq show text');
});
