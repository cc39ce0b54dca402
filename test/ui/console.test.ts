/**
 * The web console in a real browser (Debian's chromium) against a real sagad, nats-server and
 * the e2e participant: sign in with the token, the list shows the instances this test
 * started, a compensated instance's timeline has its steps then its compensations in reverse,
 * cancel from the page cancels, the definition graph has a node per step, dead letters can be
 * redriven and purged, and the browser logged no error. Screenshots go to test-artifacts/ui/.
 */
import t from 'tap';
import { uuidv7 } from '../../engine/ids.js';
import { waitFor } from '../helpers/sagad.js';
import { Api, order, SAGA, type Reply } from '../e2e/api-client.js';
import { fixtureVariant, startWorld, STEPS } from '../e2e/harness.js';
import { DESKTOP, launchBrowser, PHONE } from './browser.js';

const TOKEN = 'console-test-token';

/** The browser globals the page functions below read (tests are type-checked without the DOM library; CSP forbids string functions). */
interface Win {
  location: { hash: string };
  sessionStorage: { getItem(key: string): string | null };
  document: { querySelector(s: string): { textContent: string | null } | null; querySelectorAll(s: string): { length: number } };
}
const auth = { authorization: `Bearer ${TOKEN}` };

/** The e2e client with the bearer token on every call. */
class TokenApi extends Api {
  override req<T = Record<string, unknown>>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
    return super.req<T>(method, path, body, { ...auth, ...headers });
  }
}

// A held charge waits a minute per attempt, so the instance to cancel stays running however
// slow the machine; every attempt timeout is a minute, so that no attempt is retried for the
// machine's load and each timeline shows exactly the attempts its replies made.
const LONG: [string, string][] = [
  ['timeout: 800ms', 'timeout: 60s'], ['timeout: 600ms', 'timeout: 60s'], ['timeout: 600ms', 'timeout: 60s'],
  ['timeout: 1s', 'timeout: 60s'], ['timeout: 1s', 'timeout: 60s'], ['timeout: 1s', 'timeout: 60s'],
];
const w = await startWorld(t, {
  sagadEnv: { SAGA_API_TOKEN: TOKEN },
  definitions: (dir) => fixtureVariant(dir, 'order-ui.yaml', LONG),
});
const api = new TokenApi(() => w.sagad.url);
const browser = await launchBrowser();
t.teardown(() => browser.close());
const { page } = browser;
const ui = (hash = '') => `${w.sagad.url}/ui/${hash}`;

const started = async (orderId: string): Promise<string> => {
  const r = await api.start(order(orderId));
  if (r.status !== 201) throw new Error(`start ${orderId} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body.id;
};
const okIds = [await started('o-ui-ok-1'), await started('o-ui-ok-2')];
const compId = await started('o-ui-comp~shipreject');
const holdId = await started('o-ui-hold~holdcharge');
for (const id of okIds) await api.settled(id, 20_000, ['completed']);
await api.settled(compId, 20_000, ['compensated']);
await waitFor(async () => (await api.instance(holdId)).steps.find((s) => s.name === 'charge-payment')?.state === 'running', 10_000, { what: 'the held charge to be in flight' });

/** Waits until the page marked `main[data-ready=<page>]` (its first data drawn). */
const ready = (name: string) => page.waitForSelector(`main[data-ready="${name}"]`);

t.test('the console asks for the token, refuses a wrong one, and signs in with the right one', async (t) => {
  await page.goto(ui());
  await page.waitForSelector('input[name="token"]');
  t.equal(await page.title(), 'sagad console');
  await page.fill('input[name="token"]', 'not-the-token');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.note.error');
  t.match(await page.textContent('.note.error'), /did not accept/);
  await page.fill('input[name="token"]', TOKEN);
  await page.keyboard.press('Enter');
  await ready('overview');
  t.equal(await page.evaluate(() => (globalThis as unknown as Win).sessionStorage.getItem('sagad.token')), TOKEN, 'the token is kept in session storage');
  // The browser logs the two 401 answers of the sign-in itself; nothing else may be logged.
  browser.forget(/status of 401/);
  const total = await page.textContent('.card .value');
  t.equal(total, '4', 'the overview counts the four instances started');
  await browser.shot('overview-1280');
});

t.test('the list shows the instances this test started, with counts by state, and filters by state', async (t) => {
  await page.goto(ui('#/instances'));
  await ready('instances');
  const ids = await page.$$eval('tbody tr[data-id]', (rows) => rows.map((r) => r.getAttribute('data-id')));
  t.same([...ids].sort(), [...okIds, compId, holdId].sort(), 'every instance started is listed');
  t.equal(await page.textContent('.counts a[data-state="completed"] .n'), '2');
  t.equal(await page.textContent('.counts a[data-state="compensated"] .n'), '1');
  await browser.shot('instances-1280');
  await page.setViewportSize(PHONE);
  await browser.shot('instances-phone');
  await page.setViewportSize(DESKTOP);

  await page.selectOption('select[name="state"]', 'compensated');
  await page.click('form.filters button[type="submit"]');
  await page.waitForFunction(() => {
    const w = globalThis as unknown as Win;
    return w.location.hash.includes('state=compensated') && w.document.querySelectorAll('tbody tr[data-id]').length === 1;
  });
  t.same(await page.$$eval('tbody tr[data-id]', (rows) => rows.map((r) => r.getAttribute('data-id'))), [compId], 'filtered by state');
});

t.test("a compensated instance's timeline shows its steps, then its compensations in reverse order", async (t) => {
  await page.goto(ui(`#/instances/${compId}`));
  await ready('instance');
  const lanes = await page.$$eval('[data-lane]', (ls) => ls.map((l) => l.getAttribute('data-lane')));
  t.same(lanes, [...STEPS.map((s) => `do:${s}`), 'undo:charge-payment', 'undo:reserve-inventory'], 'lanes in the order things happened');
  // The first attempt of each lane starts after the previous lane's: one time axis from the start.
  const starts = await page.$$eval('[data-lane]', (ls) => ls.map((l) => Number(l.querySelector('.tl-span')?.getAttribute('data-from'))));
  t.ok(starts.every((s, i) => Number.isFinite(s) && (i === 0 || s >= (starts[i - 1] ?? 0))), `lanes start in order on the axis: ${starts.join(', ')}`);
  const ends = await page.$$eval('[data-lane] .tl-span', (ss) => ss.map((s) => s.getAttribute('data-end')));
  t.same(ends, ['succeeded', 'succeeded', 'failed', 'compensated', 'compensated'], 'each attempt ends as the journal says');
  t.match(await page.textContent('.why'), new RegExp(`instance ${compId} is waiting for nothing: it was compensated`), "the paragraph of sagactl why");
  t.equal(await page.$$eval('tr[data-step]', (r) => r.length), STEPS.length, 'a row per step');
  t.equal(await page.$$eval('.actions button', (b) => b.length), 0, 'no action on a compensated instance');
  await browser.shot('instance-compensated-1280');
  await page.setViewportSize(PHONE);
  await browser.shot('instance-compensated-phone');
  await page.setViewportSize(DESKTOP);
});

t.test('a poll waits for the last answer: a slow instance document is shown, and requests do not pile up', async (t) => {
  // The instance document is held for three poll intervals (1.5 s each); a poll that started
  // regardless would ask again twice meanwhile, and its answer would replace the held one.
  const path = new URL(`${w.sagad.url}/v1/instances/${compId}`).pathname;
  let asked = 0;
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  await page.route((url) => url.pathname === path, async (route) => {
    asked++;
    if (asked === 1) await held;
    await route.continue();
  });
  t.teardown(() => page.unroute((url) => url.pathname === path));
  await page.goto(ui(`#/instances/${compId}`));
  await page.waitForFunction(() => (globalThis as unknown as Win).document.querySelector('main h1') !== null);
  await new Promise((resolve) => setTimeout(resolve, 4_500)); // three poll intervals: an absence has no event to wait for
  t.equal(asked, 1, 'no poll while the first answer was awaited');
  release();
  await ready('instance');
  t.equal(await page.$$eval('tr[data-step]', (r) => r.length), STEPS.length, 'the slow answer is drawn');
});

t.test("the instance page reads the journal once, then polls only for the entries after the last it has", async (t) => {
  const id = okIds[0] ?? '';
  const base = new URL(`${w.sagad.url}/v1/instances/${id}/history`).pathname;
  const first = page.waitForResponse((r) => { const u = new URL(r.url()); return u.pathname === base && !u.searchParams.has('after'); });
  await page.goto(ui(`#/instances/${id}`));
  const whole = (await (await first).json()) as { items: { seq: number }[] };
  const last = whole.items.at(-1)?.seq;
  t.ok(last !== undefined && last > 1, `the whole journal first (${whole.items.length} entries)`);
  const poll = await page.waitForRequest((r) => new URL(r.url()).pathname === base);
  t.equal(new URL(poll.url()).searchParams.get('after'), String(last), 'the next poll asks only for what came after it');
  await ready('instance');
  t.equal(await page.$$eval('tr[data-step]', (r) => r.length), STEPS.length, 'the page still shows every step');
});

t.test('cancel from the page, with a reason and a confirmation, cancels the instance', async (t) => {
  await page.goto(ui(`#/instances/${holdId}`));
  await ready('instance');
  t.match(await page.textContent('.why'), /It is waiting for the reply/);
  await page.click('.actions button.danger');
  await page.waitForSelector('dialog.confirm[open]');
  // Escape backs out of the dialog and sends nothing; the keyboard opens it again.
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog.confirm', { state: 'detached' });
  t.equal((await api.instance(holdId)).state, 'running', 'Escape cancelled nothing');
  await page.focus('.actions button.danger');
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog.confirm[open]');
  await browser.shot('instance-cancel-dialog-1280');
  // Confirming without a reason is refused in the dialog; nothing is sent.
  await page.click('dialog.confirm button[type="submit"]');
  t.equal((await api.instance(holdId)).state, 'running', 'still running before the confirmation');
  // Typed on two lines: the API takes one line, so the break is sent as a space.
  await page.fill('dialog.confirm textarea', 'customer called\n the console');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog.confirm', { state: 'detached' });
  const doc = await api.settled(holdId, 20_000, ['compensated']);
  t.match(doc.reason, /customer called the console/, 'compensated for the reason typed');
  await page.waitForFunction(() => (globalThis as unknown as Win).document.querySelector('h1 .badge')?.textContent === 'compensated');
  t.same(await page.$$eval('[data-lane]', (ls) => ls.map((l) => l.getAttribute('data-lane'))),
    ['do:reserve-inventory', 'do:charge-payment', 'undo:charge-payment', 'undo:reserve-inventory'], 'the page follows the compensation');
  t.match(await page.textContent('.tl-events'), /compensation started: cancelled: customer called the console \(by admin\)/, "the history names the token that cancelled (SAGA_API_TOKEN is 'admin')");
  t.match(await page.textContent('.why'), /Last operator action: admin cancelled it at .*, saying “customer called the console”/);
});

t.test('the definition page draws a node per step and each compensation back to its step', async (t) => {
  await page.goto(ui(`#/definitions/${SAGA}`));
  await ready('definition');
  await page.waitForSelector('pre.yaml');
  t.same(await page.$$eval('svg.graph [data-step]', (ns) => ns.map((n) => n.getAttribute('data-step'))), [...STEPS], 'a node per step, in order');
  t.same(await page.$$eval('svg.graph .edge.undo', (es) => es.map((e) => e.getAttribute('data-edge'))),
    ['undo:reserve-inventory->step:reserve-inventory', 'undo:charge-payment->step:charge-payment'], 'compensations point back at their steps');
  t.equal(await page.$$eval('svg.graph .node.pivot', (ns) => ns.map((n) => n.getAttribute('data-step')).join()), 'ship-order', 'the pivot is marked');
  t.match(await page.textContent('pre.yaml'), /name: order-fulfillment\n/);
  const current = (await api.req<{ hash: string }>('GET', `/v1/definitions/${SAGA}`)).body.hash;
  // The versions table is a fetch of its own, not part of the page's ready mark.
  await page.waitForSelector('tr[data-hash]');
  t.equal(await page.$$eval('tr[data-hash]', (rs) => rs.map((r) => r.getAttribute('data-hash')).join()), current, 'all instances on the current version');
  await browser.shot('definition-1280');
  await page.setViewportSize(PHONE);
  await browser.shot('definition-phone');
  await page.setViewportSize(DESKTOP);
});

t.test('a dead letter is shown with its reason, headers and body, then redriven and purged', async (t) => {
  const { js } = await w.link();
  await js.publish('inventory.events', new TextEncoder().encode('this is not an envelope'), { msgID: uuidv7() });
  const letter = await waitFor(async () => (await api.req<{ items: { id: string }[] }>('GET', '/v1/dlq')).body.items[0], 10_000, { what: 'a dead letter' });
  await page.goto(ui('#/dlq'));
  await ready('dlq');
  t.same(await page.$$eval('tr[data-id]', (rs) => rs.map((r) => r.getAttribute('data-id'))), [letter.id], 'listed');
  await page.click(`tr[data-id="${letter.id}"] a`);
  await ready('letter');
  t.equal(await page.textContent('pre.json'), 'this is not an envelope', 'the raw body');
  await browser.shot('dead-letter-1280');
  await page.click('.actions button.primary');
  await page.fill('dialog.confirm textarea[name="reason"]', 'parser fixed');
  await page.click('dialog.confirm button[type="submit"]');
  await page.waitForSelector('dialog.confirm', { state: 'detached' });
  const logged = (action: string) => w.sagad.logs().map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return {}; } })
    .find((l) => l.action === action && l.deadLetter === letter.id);
  t.match(await waitFor(() => logged('redrive'), 10_000, { what: 'the redrive in sagad\'s log' }), { by: 'admin', reason: 'parser fixed' }, 'the reason typed is logged with the token\'s name');
  const redriven = await api.req<{ redrivenAt: string | null }>('GET', `/v1/dlq/${letter.id}`);
  t.not(redriven.body.redrivenAt, null, 'redriven');
  await page.waitForSelector('[data-redriven-by]');
  t.equal(await page.textContent('[data-redriven-by]'), 'admin', 'the page says who redrove it');
  await page.click('.actions button.danger');
  await page.fill('dialog.confirm textarea[name="reason"]', 'seen twice');
  await page.click('dialog.confirm button[type="submit"]');
  await page.waitForSelector('dialog.confirm', { state: 'detached' });
  t.equal((await api.req('GET', `/v1/dlq/${letter.id}`)).status, 404, 'purged');
  t.match(await waitFor(() => logged('purge'), 10_000, { what: 'the purge in sagad\'s log' }), { by: 'admin', reason: 'seen twice' }, 'and the purge\'s');
});

t.test('the browser logged no error on any page', async (t) => {
  await page.goto(ui('#/'));
  await ready('overview');
  t.same(browser.errors(), [], 'no console error, no uncaught exception');
});
