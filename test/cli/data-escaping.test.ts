/**
 * Data reaches the terminal inert: whatever sagactl prints of instances, journals and dead
 * letters (written by whoever may publish on a subject) has its escape sequences, SGR colours
 * included, and its bidi controls written as visible `\uXXXX` escapes, with colour on or off;
 * only sagactl's own styling colours. A real SQLite file read with --db, and the real API over
 * a store with parked dead letters.
 */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { buildApi } from '../../engine/api/app.js';
import { openStore } from '../../engine/store/index.js';
import { StoreEngine } from '../api/store-engine.js';
import { Fixture, orderInput } from './fixture.js';
import { cli, type TermOptions } from './helpers.js';

const ESC = '\u001b';
const conceal = `${ESC}[8mhidden${ESC}[0m`;
const rlo = '\u202e';
const dir = t.testdir();
const db = join(dir, 'sagad.db');

const f = new Fixture(db);
f.start('order-fulfillment', 'ord-evil', orderInput(`o-${conceal}-${rlo}txt.exe`));
f.advance(100).reply('ord-evil', 'reserve-inventory', 'InventoryReserved', { reservationId: 'r-1' });
f.advance(100).feed('ord-evil', { type: 'CancelRequested', reason: `fraud ${conceal} ${rlo}suspected` });
const now = f.now;
f.close();

const store = openStore(db);
const letter = store.park({
  subject: 'inventory.events', reason: `invalid: ${conceal}`, headers: { 'X-Note': `ok ${conceal} shown`, [`X-${rlo}Key`]: 'v' },
  data: Buffer.from(`{"note":"${conceal}"}\n${rlo}second line`), deliveryCount: 2, at: now,
});
const app = buildApi(new StoreEngine(store));
const server = await app.listen({ port: 0, host: '127.0.0.1' });
t.teardown(async () => {
  await app.close();
  store.close();
});

/** A terminal with colour on (sagactl's own SGR is printed) unless the options say otherwise. */
const colour: TermOptions = { now, columns: 200, tty: true, env: {} };

/** Every raw ESC of `text` starts one of sagactl's own colour codes, never the data's conceal (8) or reset (0). */
function onlyOwnColours(t: Test, text: string, what: string): void {
  t.notOk(text.includes(`${ESC}[8m`) || text.includes(`${ESC}[0m`), `${what}: the data's SGR does not reach the terminal`);
  t.notOk(text.includes(rlo), `${what}: nor its bidi override`);
  const own = text.replace(new RegExp(`${ESC}\\[(1|2|22|31|32|33|35|36|39)m`, 'g'), '');
  t.notOk(own.includes(ESC), `${what}: every ESC left is sagactl's own colour`);
}

const commands: [string, string[]][] = [
  ['list', ['list', '--db', db]],
  ['describe', ['describe', 'ord-evil', '--db', db]],
  ['why', ['why', 'ord-evil', '--db', db]],
  ['history', ['history', 'ord-evil', '--db', db]],
  ['dlq list', ['dlq', 'list', '--server', server]],
  ['dlq show', ['dlq', 'show', letter, '--server', server]],
];

t.test('with colour on, data is escaped and only sagactl colours', async (t) => {
  for (const [what, args] of commands) {
    const r = await cli(args, colour);
    t.equal(r.code, 0, `${what}: ${r.err}`);
    onlyOwnColours(t, r.out + r.err, what);
    t.match(r.out, '\\u001b[8mhidden\\u001b[0m', `${what}: the conceal code is shown, escaped, and the text it hid is visible`);
  }
  const listed = await cli(['list', '--db', db], colour);
  t.match(listed.out, /\\u202etxt\.exe/, 'the key\'s right-to-left override is shown as \\u202e');
  t.match(listed.out, `${ESC}[35mcompensating${ESC}[39m`, 'while the state keeps its colour');
});

t.test('with --no-color, NO_COLOR or a pipe, no ESC at all is printed', async (t) => {
  const plainTerms: [string, TermOptions, string[]][] = [
    ['--no-color', colour, ['--no-color']], ['NO_COLOR', { ...colour, env: { NO_COLOR: '1' } }, []], ['a pipe', { now, tty: false }, []],
  ];
  for (const [how, term, extra] of plainTerms) {
    for (const [what, args] of commands) {
      const r = await cli([...args, ...extra], term);
      t.equal(r.code, 0, `${what} with ${how}: ${r.err}`);
      t.notOk(r.out.includes(ESC) || r.err.includes(ESC) || r.out.includes(rlo), `${what} with ${how}: no raw ESC, no raw override`);
    }
  }
});

t.test('dlq show: the header, the reason and the body are shown escaped; the body keeps its lines', async (t) => {
  const r = await cli(['dlq', 'show', letter, '--server', server, '--no-color'], colour);
  t.equal(r.code, 0, r.err);
  t.match(r.out, 'Reason:      invalid: \\u001b[8mhidden\\u001b[0m\n');
  t.match(r.out, '  X-Note: ok \\u001b[8mhidden\\u001b[0m shown\n');
  t.match(r.out, '  X-\\u202eKey: v\n');
  t.match(r.out, '{"note":"\\u001b[8mhidden\\u001b[0m"}\n\\u202esecond line\n');
});

t.test('-o json stays the API document: escapes are JSON\'s, the values unchanged', async (t) => {
  const r = await cli(['dlq', 'show', letter, '--server', server, '-o', 'json'], colour);
  const doc = JSON.parse(r.out) as { headers: Record<string, string>; reason: string };
  t.equal(doc.headers['X-Note'], `ok ${conceal} shown`);
  t.equal(doc.reason, `invalid: ${conceal}`);
  t.notOk(r.out.includes(ESC) || r.out.includes(rlo));
});
