/**
 * The console signed in with the read-only token (SAGA_API_READ_TOKEN), in Debian's chromium
 * against a real sagad: it shows the instance, its timeline and its "why", and no action (no
 * cancel, no retry). Screenshots go to test-artifacts/ui/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { order } from '../e2e/api-client.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { startSagad } from '../helpers/sagad.js';
import { launchBrowser } from './browser.js';

const ADMIN = 'admin-token-for-the-test';
const READ = 'read-token-for-the-test';
const dir = mkdtempSync(join(tmpdir(), 'sagad-ui-read-'));
const nats = await startNatsServer();
t.teardown(() => nats.stop());
const sagad = await startSagad({
  natsUrl: nats.url, dbFile: join(dir, 'sagad.db'), env: { SAGA_API_TOKEN: ADMIN, SAGA_API_READ_TOKEN: READ },
});
t.teardown(async () => {
  await sagad.stop();
  rmSync(dir, { recursive: true, force: true });
});
const browser = await launchBrowser();
t.teardown(() => browser.close());
const { page } = browser;

t.test('a read-only token sees an instance and its timeline, and no action', async (t) => {
  // Nobody answers its command: the instance stays running, so an operator could cancel it.
  const res = await fetch(`${sagad.url}/v1/sagas/order-fulfillment/instances`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ input: order('o-read-1') }),
  });
  t.equal(res.status, 201);
  const { id } = await res.json() as { id: string };

  await page.goto(`${sagad.url}/ui/`);
  await page.waitForSelector('input[name="token"]');
  await page.fill('input[name="token"]', READ);
  await page.keyboard.press('Enter');
  await page.waitForSelector('main[data-ready="overview"]');
  await page.goto(`${sagad.url}/ui/#/instances/${encodeURIComponent(id)}`);
  await page.waitForSelector('main[data-ready="instance"]');
  t.match(await page.textContent('.why'), /It is waiting for the reply/, 'the why paragraph is there');
  t.equal(await page.$$eval('.actions button', (bs) => bs.length), 0, 'no cancel or retry button');
  await browser.shot('instance-read-token-1280');
  const acted = await fetch(`${sagad.url}/v1/instances/${encodeURIComponent(id)}/cancel`, {
    method: 'POST', headers: { authorization: `Bearer ${READ}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'x' }),
  });
  t.equal(acted.status, 403, 'and the server refuses the token an act anyway');
  browser.forget(/status of 401/);
  t.same(browser.errors(), [], 'no console error, no uncaught exception');
});
