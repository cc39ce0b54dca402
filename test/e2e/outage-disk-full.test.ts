import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import t from 'tap';
import { uuidv7 } from '../../engine/ids.js';
import { encodeEnvelope } from '../../engine/transport/envelope.js';
import { publishEnvelope } from '../../engine/transport/publish.js';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { ORDER_LOAD_DEFS, startWorld } from './harness.js';
import { checkAll } from './load-check.js';
import { stepReaches } from './kinds.js';
import { checkPublishedOnce } from './outage-check.js';

/**
 * The disk fills up under load: sagad's database lives on a small tmpfs, which the test
 * fills with a file of its own until the file system says ENOSPC. Commits then fail with
 * SQLITE_FULL: the inputs they carried are not acknowledged but held and tried again (a full
 * disk must not use up their deliveries), API starts are refused, timers wait, and sagad
 * neither crashes nor hangs. Once the file is deleted, work resumes and nothing was lost. Needs root (mount), as the README's test command runs.
 */
t.setTimeout(180_000);
const disk = mkdtempSync(join(tmpdir(), 'sagad-small-disk-'));
execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', disk]);
const filler = join(disk, 'filler');
// Two deliveries only, so that an input which meets the full disk twice is on its last one.
const w = await startWorld(t, { definitions: ORDER_LOAD_DEFS, sagadEnv: { SAGA_DB: join(disk, 'sagad.db'), SAGA_MAX_DELIVER: '2' } });
t.teardown(async () => {
  await w.sagad.kill9();
  execFileSync('umount', ['-l', disk]);
  rmSync(disk, { recursive: true, force: true });
});

/** Writes into `filler` until the file system is full; returns the bytes written. */
function fillDisk(): number {
  const fd = openSync(filler, 'a');
  const chunk = Buffer.alloc(64 * 1024, 1);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return written;
}

const logged = (text: string) => w.sagad.logs().filter((l) => l.includes(text)).length;
const KINDS = ['', '~decline', '~busy2', '', '~shipreject'];

t.test('a full disk under load: inputs are held, nothing is lost, work resumes once space returns', async (t) => {
  const triggers = Array.from({ length: 20 }, (_, i) => `o-full-trig-${i}${KINDS[i % KINDS.length] ?? ''}`);
  const ids: string[] = [];
  const refused: number[] = [];
  let inFlight = 0;
  /** Starts a new saga and asks again until it is accepted. */
  const startOne = async (): Promise<void> => {
    const id = `full-${ids.length}`;
    const kind = KINDS[ids.length % KINDS.length] ?? '';
    ids.push(id);
    inFlight += 1;
    for (;;) {
      const r = await w.api.start(order(`o-${id}${kind}`), { id }).catch(() => null);
      if (r !== null && (r.status === 201 || r.status === 200)) break;
      if (r !== null) refused.push(r.status);
      await delay(100);
    }
    inFlight -= 1;
  };
  const starts: Promise<void>[] = [];
  /** Keeps three starts in flight until `until` holds, or `ms` passed. */
  const keepStarting = async (until: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!until() && Date.now() < deadline) {
      if (inFlight < 3) starts.push(startOne());
      await delay(40);
    }
  };
  const { js } = await w.link();
  /** Publishes the trigger events, 150 ms apart. */
  const publishTriggers = async (keys: readonly string[]) => {
    for (const key of keys) {
      const e = { eventId: uuidv7(), eventType: 'OrderPlaced', aggregateId: key, timestamp: new Date().toISOString(), version: 1, correlationId: `c-${key}`, causationId: null, payload: order(key) };
      await publishEnvelope(js, 'orders.events', encodeEnvelope(e), {}, e.eventId);
      await delay(150);
    }
  };
  const before = publishTriggers(triggers.slice(0, 10));

  await keepStarting(() => ids.length >= 15, 30_000);
  // Two sagas whose charge is answered 3 s after it was sent, past its 2 s attempt timeout: once
  // their charge is out, the disk fills, and the timeout comes due (a timer batch) and the reply
  // arrives (an inbound message) while it is full, however fast the rest ran.
  const slow = ['full-slow-0', 'full-slow-1'];
  for (const id of slow) {
    ids.push(id);
    const r = await w.api.start(order(`o-${id}~slowcharge3000`), { id });
    t.equal(r.status, 201, `${id} started`);
  }
  await Promise.all(slow.map((id) => stepReaches(w, id, 'charge-payment')));
  await before;
  const fullSince = Date.now();
  const filled = fillDisk();
  t.ok(filled > 0, `the disk is full (${filled} bytes of filler)`);
  // The other trigger events arrive while the disk is full.
  const triggering = publishTriggers(triggers.slice(10));
  // Held full until commits have failed for real, for API starts and for inbound messages, and
  // one message met the full disk three times (more than its two deliveries would allow, were
  // each failure to use one up).
  const failedThrice = () => logged('message given up') > 0 || w.sagad.logs()
    .some((l) => l.includes('"msg":"the store failed') && (JSON.parse(l) as { failures: number }).failures >= 3);
  const timerFailed = () => logged('"msg":"timer service failed"') > 0;
  await keepStarting(() => refused.length > 0 && failedThrice() && timerFailed(), 60_000);
  // sagad's last lines are mostly refused starts: count what the assertions look for.
  const tally = () => w.diag({ held: logged('"msg":"the store failed'), timerFailures: logged('"msg":"timer service failed"'), givenUp: logged('message given up') });
  t.ok(refused.length > 0, `API starts were refused on the full disk (${refused.length})`, tally());
  t.ok(failedThrice(), 'an inbound message met the full disk three times and was held', tally());
  t.ok(timerFailed(), 'a timer batch failed on the full disk', tally());
  t.equal(logged('message given up'), 0, 'no message was given up because the disk was full', w.diag());
  t.ok(logged('database or disk is full') > 0, 'SQLite said the disk is full', w.diag());
  t.notOk(w.sagad.exited(), 'sagad is still running');
  const health = await w.api.req('GET', '/healthz');
  t.equal(health.status, 200, 'and answers');
  const notReady = await w.api.req('GET', '/readyz');
  t.equal(notReady.status, 503, 'but is not ready: its reads work, its commits fail');
  t.match(notReady.body, { checks: { store: { ok: false, detail: /^the store fails commits: .*full/ } } });

  rmSync(filler);
  // A failing input is retried after a pause, not at once in a loop that floods the log.
  const fullSeconds = Math.ceil((Date.now() - fullSince) / 1000);
  t.ok(logged('"msg":"timer service failed"') <= 10 + fullSeconds, `timer batches that failed were retried with a pause (${logged('"msg":"timer service failed"')} failures in ${fullSeconds} s)`);
  // Marking sent rows and the background checkpoint fail every 100 ms on a full disk: said once, not each time.
  t.ok(logged('"msg":"outbox relay failed') <= 2, `the failing marks of sent rows were reported once (${logged('"msg":"outbox relay failed')} lines)`, w.diag());
  t.ok(logged('"msg":"store background') <= 2, `the failing background checkpoint was reported once (${logged('"msg":"store background')} lines in ${fullSeconds} s)`, w.diag());
  const more = ids.length + 15;
  await keepStarting(() => ids.length >= more, 30_000);
  await Promise.all([...starts, triggering]);
  // Until every instance ended and, should some be missing, sagad has nothing left to consume.
  await waitFor(async () => {
    const all = await w.api.list();
    return all.every((i) => i.state === 'completed' || i.state === 'compensated' || i.state === 'failed')
      && (all.length >= ids.length + triggers.length || await w.sagadIdle());
  }, 90_000, { what: 'every saga to end', intervalMs: 250 });
  t.notOk(w.sagad.exited(), 'sagad never stopped');
  t.equal((await w.api.req('GET', '/readyz')).status, 200, 'ready again once its commits succeed');
  await checkAll(t, w, { ids, keys: triggers });
  await checkPublishedOnce(t, w);
});
