import { writeSync } from 'node:fs';

/**
 * Fault points: named places at the boundaries where a crash is most likely to break a
 * guarantee (DESIGN section 1, point 4). A test facility, off unless the environment names a
 * point: `SAGA_FAULT=after-commit-before-ack:3` kills the process with SIGKILL (a real crash:
 * no handler, no flush, no drain) the third time it passes that point. The crash tests
 * (test/e2e/fault-*.test.ts) walk every point here and check the guarantee after a restart,
 * so a boundary added later (another store, retention, reload) adds its point to this list
 * and is walked from then on.
 */
export const FAULT_POINTS = {
  'after-commit-before-ack': 'an inbound message\'s transaction committed; JetStream not yet acknowledged',
  'after-commit-before-publish': 'a commit that queued outbox rows is durable; the relay has not been handed them',
  'after-publish-before-mark': 'JetStream acknowledged a batch of outbox rows; they are not yet marked sent',
  'mid-group-commit': 'inside a shared transaction, between two of its inputs, before COMMIT',
  'after-timer-commit': 'a batch of fired timers committed; the timer service not yet re-armed',
  'after-start-commit-before-reply': 'a start requested on sagas.start.<name> committed; the requester not yet answered',
  'after-park-before-ack': 'a dead letter was stored; its message not yet acknowledged',
  'after-archive-before-delete': 'a retention batch is in the archive and synced; its instances not yet deleted',
} as const;

/** The name of a fault point. */
export type FaultPoint = keyof typeof FAULT_POINTS;

/** The armed point and the pass that kills, or why `SAGA_FAULT` was not understood. */
type Armed = { readonly point: FaultPoint; readonly pass: number } | { readonly problem: string } | null;

/** Reads a `SAGA_FAULT` value: `<point>:<n>` (n from 1), or `<point>` for the first pass. */
export function parseFault(raw: string | undefined): Armed {
  if (raw === undefined || raw === '') return null;
  const m = /^([a-z-]+)(?::([1-9][0-9]*))?$/.exec(raw.trim());
  const point = m?.[1];
  if (m === null || point === undefined || !Object.hasOwn(FAULT_POINTS, point)) {
    return { problem: `SAGA_FAULT=${JSON.stringify(raw)}: must be <point>[:<n>] with a point among ${Object.keys(FAULT_POINTS).join(', ')}` };
  }
  return { point: point as FaultPoint, pass: m[2] === undefined ? 1 : Number(m[2]) };
}

// Resolved once at load: with SAGA_FAULT unset, `fault` compares one constant and returns.
const armed = parseFault(process.env.SAGA_FAULT);
const point: FaultPoint | null = armed !== null && 'point' in armed ? armed.point : null;
const killAt = armed !== null && 'pass' in armed ? armed.pass : 0;
let passes = 0;

/** Marks a pass through `at`; when `SAGA_FAULT` names it and this is the chosen pass, the process dies by SIGKILL. */
export function fault(at: FaultPoint): void {
  if (at !== point) return;
  passes += 1;
  if (passes !== killAt) return;
  // Written synchronously, so the line is out before the process is gone.
  writeSync(2, `${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'fault point reached; killing the process', point: at, pass: passes })}\n`);
  process.kill(process.pid, 'SIGKILL');
}

/** What the server logs at start: the armed point, or a sentence saying why `SAGA_FAULT` is wrong; null when unset. */
export function faultArmed(): { point: FaultPoint; pass: number } | { problem: string } | null {
  return armed;
}
