/**
 * The console of a sagad without SAGA_API_TOKEN, running sagas/trip-booking.yaml: no sign-in,
 * and the definition graph of a saga with a parallel group, a condition and a wait step, drawn
 * in Debian's chromium with a node per step. Screenshots go to test-artifacts/ui/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startNatsServer } from '../helpers/nats-server.js';
import { startSagad } from '../helpers/sagad.js';
import { launchBrowser, PHONE } from './browser.js';

const dir = mkdtempSync(join(tmpdir(), 'sagad-ui-no-token-'));
const nats = await startNatsServer();
t.teardown(() => nats.stop());
const sagad = await startSagad({ natsUrl: nats.url, dbFile: join(dir, 'sagad.db'), definitions: 'sagas/trip-booking.yaml' });
t.teardown(async () => {
  await sagad.stop();
  rmSync(dir, { recursive: true, force: true });
});
const browser = await launchBrowser();
t.teardown(() => browser.close());
const { page } = browser;

t.test('without a token there is no sign-in and no sign-out', async (t) => {
  await page.goto(`${sagad.url}/ui/`);
  await page.waitForSelector('main[data-ready="overview"]');
  t.equal(await page.$$eval('input[name="token"]', (i) => i.length), 0, 'no sign-in page');
  await page.waitForFunction(() => (globalThis as unknown as { document: { querySelector(s: string): unknown } }).document.querySelector('.who') !== null);
  t.equal(await page.$$eval('.who button', (b) => b.length), 0, 'nothing to sign out of');
});

t.test('a parallel group, a condition and a wait: a node per step, fork and join, the condition on its edge', async (t) => {
  await page.goto(`${sagad.url}/ui/#/definitions/trip-booking`);
  await page.waitForSelector('main[data-ready="definition"]');
  t.same(await page.$$eval('svg.graph [data-step]', (ns) => ns.map((n) => n.getAttribute('data-step'))),
    ['book-flight', 'book-hotel', 'await-payment', 'rent-car', 'confirm-trip', 'send-itinerary'], 'a node per step');
  t.same(await page.$$eval('svg.graph .node.fork, svg.graph .node.join', (ns) => ns.map((n) => n.getAttribute('data-node'))),
    ['fork:book-travel', 'join:book-travel'], 'the parallel group forks and joins');
  t.same(await page.$$eval('svg.graph .edge', (es) => es.filter((e) => e.getAttribute('data-edge')?.startsWith('fork:')).length), 2, 'one edge per branch');
  t.match(await page.$$eval('svg.graph .edge-label', (ls) => ls.map((l) => l.textContent).join('|')), /when \$input\.needsCar = true/, 'the condition labels its edge');
  t.equal(await page.$$eval('svg.graph .node.wait', (ns) => ns.map((n) => n.getAttribute('data-step')).join()), 'await-payment');
  t.equal(await page.$$eval('svg.graph .node.pivot', (ns) => ns.map((n) => n.getAttribute('data-step')).join()), 'confirm-trip');
  t.equal(await page.$$eval('svg.graph .edge.undo', (es) => es.length), 3, 'three compensations, each drawn back to its step');
  await browser.shot('definition-trip-1280');
  await page.setViewportSize(PHONE);
  await browser.shot('definition-trip-phone');
  t.same(browser.errors(), [], 'no console error, no uncaught exception');
});
