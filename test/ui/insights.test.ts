/**
 * The console's exact figures in Debian's chromium against a real sagad, nats-server and the
 * e2e participant: two versions of order-fulfillment (sagad restarted on a changed definitions
 * file), 3 instances on the first and 2 on the second; the definition page counts each
 * version's instances by state, and the overview shows the saga times the API computed over
 * every finished instance. Screenshots go to test-artifacts/ui/.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { duration } from '../../cli/render/time.js';
import { waitFor } from '../helpers/sagad.js';
import { order, SAGA } from '../e2e/api-client.js';
import { fixtureVariant, startWorld } from '../e2e/harness.js';
import { launchBrowser, PHONE, DESKTOP } from './browser.js';

interface Percentiles { count: number; p50: number | null; p99: number | null }
interface Durations { overall: Percentiles & { completed: Percentiles; compensated: Percentiles }; sagas: (Percentiles & { saga: string })[] }
interface Versions { current: string; items: { hash: string; instances: number; states: Record<string, number> }[] }

const w = await startWorld(t, { definitions: (dir) => fixtureVariant(dir, 'order-versions.yaml', []) });
const api = w.api;
const browser = await launchBrowser();
t.teardown(() => browser.close());
const { page } = browser;
const ui = (hash = '') => `${w.sagad.url}/ui/${hash}`;

/** Starts orders and waits until each ended as expected. */
async function run(orders: readonly [string, 'completed' | 'compensated'][]): Promise<void> {
  const ids = await Promise.all(orders.map(async ([orderId]) => (await api.started(order(orderId))).id));
  await Promise.all(ids.map((id, i) => api.settled(id, 20_000, [orders[i]?.[1] ?? 'completed'])));
}

const hashOf = async () => (await api.req<{ hash: string }>('GET', `/v1/definitions/${SAGA}`)).body.hash;
const v1 = await hashOf();
await run([['o-v1-1', 'completed'], ['o-v1-2', 'completed'], ['o-v1-3~shipreject', 'compensated']]);
// A changed definition is a new version: instances started from now on are pinned to it.
await w.sagad.stop();
writeFileSync(w.definitions, readFileSync(w.definitions, 'utf8').replace('(short timeouts for tests)', '(short timeouts for tests, version 2)'));
await w.restartSagad();
const v2 = await hashOf();
await run([['o-v2-1', 'completed'], ['o-v2-2~shipreject', 'compensated']]);

t.test('the definition page counts the instances of each version, by state', async (t) => {
  t.not(v1, v2, 'the changed file is another version');
  await page.goto(ui(`#/definitions/${SAGA}`));
  await page.waitForSelector('main[data-ready="definition"]');
  await page.waitForSelector('tr[data-hash]');
  const rows = await page.$$eval('tr[data-hash]', (rs) => rs.map((r) => ({
    hash: r.getAttribute('data-hash'),
    label: r.querySelector('td')?.textContent ?? '',
    instances: r.querySelector('td.count')?.textContent,
    completed: r.querySelector('td[data-state="completed"]')?.textContent,
    compensated: r.querySelector('td[data-state="compensated"]')?.textContent,
    running: r.querySelector('td[data-state="running"]')?.textContent,
  })));
  t.same(rows.map((r) => [r.hash, r.instances, r.completed, r.compensated, r.running]), [
    [v2, '2', '1', '1', '0'],
    [v1, '3', '2', '1', '0'],
  ], 'the newest version first, with the counts this test made');
  t.match(rows[0]?.label, /\(current\)/, 'the current version is marked');
  t.notMatch(rows[1]?.label, /current/);
  const doc = (await api.req<Versions>('GET', `/v1/definitions/${SAGA}/versions`)).body;
  t.same(doc.items.map((v) => [v.hash, v.instances]), [[v2, 2], [v1, 3]], 'as the API counts them');
  t.notMatch(await page.textContent('main'), /latest 500/, 'no sample caveat');
  await browser.shot('definition-versions-1280');
  await page.setViewportSize(PHONE);
  await browser.shot('definition-versions-phone');
  await page.setViewportSize(DESKTOP);
});

t.test('the overview shows the saga times of every finished instance', async (t) => {
  const d = (await api.req<Durations>('GET', '/v1/stats/durations')).body;
  t.same([d.overall.count, d.overall.completed.count, d.overall.compensated.count], [5, 3, 2], 'every instance this test finished');
  t.ok(d.overall.p50 !== null && d.overall.p99 !== null && d.overall.p50 <= d.overall.p99, 'p50 at most p99');
  await page.goto(ui('#/'));
  await page.waitForSelector('main[data-ready="overview"]');
  const pair = (p: Percentiles) => (p.p50 === null || p.p99 === null ? '–' : `${duration(p.p50)} / ${duration(p.p99)}`);
  // The page reads the same cached answer or a newer one; with nothing running, the figures are the same.
  const cards = await waitFor(async () => {
    const c = await page.$$eval('.cards[aria-label="Saga time p50 / p99"] .card', (cs) => cs.map((x) => [x.querySelector('.label')?.textContent, x.querySelector('.value')?.textContent, x.querySelector('.small')?.textContent]));
    return c.length === 3 ? c : undefined;
  }, 10_000, { what: 'the saga-time cards' });
  t.same(cards, [
    ['finished p50 / p99', pair(d.overall), 'over all 5 finished'],
    ['completed p50 / p99', pair(d.overall.completed), 'over all 3 completed'],
    ['compensated p50 / p99', pair(d.overall.compensated), 'over all 2 compensated'],
  ], 'the API\'s exact figures');
  const sagaRow = d.sagas.find((s) => s.saga === SAGA);
  t.equal(await page.textContent(`tr[data-saga="${SAGA}"] td.saga-time`), sagaRow === undefined ? '–' : pair(sagaRow), 'per saga in the table');
  t.notMatch(await page.textContent('main'), /latest 500/, 'no sample caveat');
  await browser.shot('overview-durations-1280');
  t.same(browser.errors(), [], 'no console error, no uncaught exception');
});
