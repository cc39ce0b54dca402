/**
 * The console's graph of the newer step kinds in Debian's chromium, against a real sagad and
 * nats-server running the shipped examples (sagas/bulk-shipment.yaml, delayed-reminder.yaml,
 * trip-with-child.yaml, pick-and-pack.yaml) and the e2e forEach fixture served by the scripted
 * participant: the forEach step is a loop node, a forEach over a group a box of its steps, each
 * delay says how long it waits, the child saga step links to the child's definition and says
 * what undoes it; on an instance's page the forEach node shows how many of its elements are
 * done. Screenshots go to test-artifacts/ui/.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { waitFor } from '../helpers/sagad.js';
import { FIXTURES, fixtureVariant, startWorld } from '../e2e/harness.js';
import { launchBrowser, PHONE, DESKTOP } from './browser.js';

const example = (name: string) => fileURLToPath(new URL(`../../sagas/${name}`, import.meta.url));
const w = await startWorld(t, {
  definitions: (dir) => {
    // Attempts wait a minute, so the held line stays in flight however slow the machine.
    fixtureVariant(dir, 'bulk-order.yaml', [['timeout: 3s', 'timeout: 60s']], join(FIXTURES, 'for-each.yaml'));
    const file = join(dir, 'all.yaml');
    const files = ['bulk-order.yaml', example('bulk-shipment.yaml'), example('delayed-reminder.yaml'), example('trip-with-child.yaml'), example('pick-and-pack.yaml')];
    writeFileSync(file, `version: 1\ninclude:\n${files.map((f) => `  - ${JSON.stringify(f)}\n`).join('')}`);
    return file;
  },
});
const browser = await launchBrowser();
t.teardown(() => browser.close());
const { page } = browser;
const ui = (hash: string) => `${w.sagad.url}/ui/${hash}`;
const ready = (name: string) => page.waitForSelector(`main[data-ready="${name}"]`);
/** The text lines of a graph node. */
const lines = (selector: string) => page.$$eval(`${selector} text`, (ts) => ts.map((x) => x.textContent));

t.test('bulk-shipment: the forEach step is drawn as a loop over $input.lines, four at once, undone by ReleaseInventory', async (t) => {
  await page.goto(ui('#/definitions/bulk-shipment'));
  await ready('definition');
  await page.waitForSelector('svg.graph');
  t.same(await page.$$eval('svg.graph [data-step]', (ns) => ns.map((n) => `${n.getAttribute('class')} ${n.getAttribute('data-step')}`)),
    ['node loop reserve-lines', 'node step charge-payment', 'node step pivot ship-order'], 'a loop node, then the command steps');
  t.same(await lines('svg.graph .node.loop'), ['reserve-lines', 'for each $input.lines, ≤4 at once']);
  t.equal(await page.$$eval('svg.graph .node.loop rect.behind', (rs) => rs.length), 2, 'drawn as a stack');
  t.same(await lines('svg.graph [data-node="undo:reserve-lines"]'), ['undo: ReleaseInventory']);
  t.ok(await page.$('svg.graph .edge.undo[data-edge="undo:reserve-lines->step:reserve-lines"]'), 'its compensation points back at it');
  await browser.shot('definition-for-each-1280');
});

t.test('pick-and-pack: a forEach over a group is a box of its steps in order, headed by its loop, each step with its undo', async (t) => {
  await page.goto(ui('#/definitions/pick-and-pack'));
  await ready('definition');
  await page.waitForSelector('svg.graph');
  t.same(await page.$$eval('svg.graph .loop-box', (bs) => bs.map((b) => b.getAttribute('data-box'))), ['pick-lines'], 'one box, the group\'s');
  t.same(await page.$$eval('svg.graph [data-step]', (ns) => ns.map((n) => n.getAttribute('data-step'))),
    ['pick-lines[].reserve', 'pick-lines[].pick', 'pack-order', 'ship-order'], 'the group\'s steps in order inside, then the steps after it');
  t.same(await page.$$eval('svg.graph .edge.undo', (es) => es.map((e) => e.getAttribute('data-edge'))), [
    'undo:pick-lines[].reserve->step:pick-lines[].reserve', 'undo:pick-lines[].pick->step:pick-lines[].pick', 'undo:pack-order->step:pack-order',
  ], 'each compensation points back at its step');
  await browser.shot('definition-group-1280');
});

t.test('delayed-reminder: each delay says how long it waits, with a clock, and has no undo', async (t) => {
  await page.goto(ui('#/definitions/delayed-reminder'));
  await ready('definition');
  await page.waitForSelector('svg.graph');
  t.same(await page.$$eval('svg.graph .node.delay', (ns) => ns.map((n) => [n.getAttribute('data-step'), [...n.querySelectorAll('text')].map((x) => x.textContent)])),
    [['cooling-off', ['cooling-off', 'waits 2d']], ['ship-day', ['ship-day', 'waits until $input.shipAt']]]);
  t.equal(await page.$$eval('svg.graph .node.delay .clock', (cs) => cs.length), 2, 'a clock on each');
  t.same(await page.$$eval('svg.graph .edge.undo', (es) => es.map((e) => e.getAttribute('data-edge'))),
    ['undo:reserve-inventory->step:reserve-inventory', 'undo:charge-payment->step:charge-payment'], 'nothing undoes a delay');
  await browser.shot('definition-delay-1280');
});

t.test("trip-with-child: the child saga step links to the child's definition and is undone by the child's compensations", async (t) => {
  await page.goto(ui('#/definitions/trip-with-child'));
  await ready('definition');
  await page.waitForSelector('svg.graph');
  t.same(await lines('svg.graph .node.child'), ['book-stay', 'child saga book-stay']);
  t.same(await lines('svg.graph [data-node="undo:book-stay"]'), ["undo: child's compensations"]);
  t.ok(await page.$('svg.graph .edge.undo[data-edge="undo:book-stay->step:book-stay"]'), 'its undo points back at it');
  t.equal(await page.$$eval('.graph-links a', (as) => as.map((a) => a.getAttribute('href')).join()), '#/definitions/book-stay', 'and a link below the graph');
  await browser.shot('definition-child-1280');
  await page.setViewportSize(PHONE);
  await browser.shot('definition-child-phone');
  await page.setViewportSize(DESKTOP);
  await page.click('svg.graph a.node-link');
  await page.waitForFunction(() => (globalThis as unknown as { location: { hash: string } }).location.hash === '#/definitions/book-stay');
  await ready('definition');
  await page.waitForSelector('svg.graph');
  t.same(await page.$$eval('svg.graph [data-step]', (ns) => ns.map((n) => n.getAttribute('data-step'))), ['book-flight', 'book-hotel'], "the child's own graph");
});

t.test("an instance's page: the forEach node says how many of its elements are done", async (t) => {
  const start = async (orderId: string, lineDirectives: string[]) => {
    const r = await w.api.req<{ id: string }>('POST', '/v1/sagas/bulk-order/instances', {
      input: { orderId, total: 42, lines: lineDirectives.map((d, i) => ({ sku: `s${i}`, ...(d === '' ? {} : { directives: d }) })) },
    });
    if (r.status !== 201) throw new Error(`start answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body.id;
  };
  // Line 1 is held (never answered): lines 0, 2 and 3 are reserved, two at a time, around it.
  const held = await start('o-ui-fe-held', ['', '~holdreserve', '', '']);
  const done = await start('o-ui-fe-ok', ['', '', '']);
  await w.api.settled(done, 20_000, ['completed']);
  await waitFor(async () => (await w.api.instance(held)).steps.filter((s) => /^reserve-lines\[\d\]$/.test(s.name) && s.state === 'succeeded').length === 3,
    20_000, { what: 'three of the four lines reserved' });

  await page.goto(ui(`#/instances/${held}`));
  await ready('instance');
  const loop = 'svg.graph .node.loop[data-step="reserve-lines"]';
  await page.waitForSelector(loop);
  t.same(await lines(loop), ['reserve-lines', 'for each $input.lines, ≤2 at once', '3 of 4 done'], 'the elements reserve-lines[i] counted on their node');
  t.equal(await page.getAttribute(loop, 'data-state'), 'running');
  t.equal(await page.getAttribute('svg.graph [data-step="charge-payment"]', 'data-state'), 'pending', 'the next step not reached');
  await browser.shot('instance-for-each-running-1280');

  await page.goto(ui(`#/instances/${done}`));
  await page.waitForFunction(() => (globalThis as unknown as { document: { querySelector(s: string): { getAttribute(a: string): string | null } | null } })
    .document.querySelector('svg.graph [data-step="ship-order"]')?.getAttribute('data-state') === 'succeeded');
  t.same((await lines(loop)).at(-1), '3 of 3 done');
  t.equal(await page.getAttribute(loop, 'data-state'), 'succeeded');
  t.same(browser.errors(), [], 'no console error, no uncaught exception');
});
