import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { FIXTURES, ORDER_LOAD_DEFS } from './harness.js';
import { agreementViolations, ledgerViolations } from './judge.js';
import { startReplicaWorld } from './replica-world.js';

/**
 * Per-instance order of commands across replicas (issue 9's known gap). Replica 0 commits a
 * saga's first command and is killed (SIGKILL, fault point `after-commit-before-publish`)
 * before sending it. The step's attempt times out after 1 s, far sooner than the dead
 * replica's rows are taken over as orphans (2 s and more); replica 1 fires the timeout and
 * compensates the step, whose outcome is unknown. The participant must get that `do` (no
 * outgoing command lost) and get it before its `undo`, never after (DESIGN section 1).
 */
t.setTimeout(180_000);

// Not t.testdir(): the world takes that one over (and empties it) when it starts.
const dir = mkdtempSync(join(tmpdir(), 'sagad-replica-order-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const definitions = join(dir, 'order-short.yaml');
// One attempt of 1 s for the reservation: its timeout gives the step up and compensates it.
const source = readFileSync(ORDER_LOAD_DEFS, 'utf8');
const shortened = source.replace('retry: { maxAttempts: 6, initialInterval: 100ms, maxInterval: 500ms }', 'retry: { maxAttempts: 1 }');
if (shortened === source) throw new Error('order-load.yaml changed: the reservation\'s retry was not found');
cpSync(join(FIXTURES, 'schemas'), join(dir, 'schemas'), { recursive: true });
writeFileSync(definitions, shortened);

const w = await startReplicaWorld(t, 2, {
  definitions,
  firstEnv: (i): Record<string, string> => (i === 0 ? { SAGA_FAULT: 'after-commit-before-publish:1' } : {}),
});

t.test('a command a killed replica never sent goes out before the undo another replica sends after its timeout', async (t) => {
  const id = '01930000-0000-7000-8000-000000000009';
  // Replica 0 commits the start, then dies before its relay is handed the rows: no answer.
  const answered = await w.apis[0]!.start(order('o-order9'), { id }).then((r) => r.status, () => 'no answer');
  t.equal(answered, 'no answer', 'replica 0 died after committing the start');
  await waitFor(() => w.replicas[0]!.exited(), 10_000, { what: 'replica 0 to be gone' });
  const doc = await waitFor(async () => {
    const d = await w.apis[1]!.instance(id).catch(() => null);
    return d !== null && (d.state === 'compensated' || d.state === 'failed') ? d : null;
  }, 60_000, { what: 'the saga to end on replica 1', intervalMs: 100 });
  t.equal(doc.state, 'compensated', 'the reservation timed out and was compensated');
  const history = await w.apis[1]!.history(id);
  const given = history.find((h) => h.type === 'StepGivenUp' || h.type === 'StepFailed');
  t.equal(given?.data.step, 'reserve-inventory', 'given up on its one attempt', { history: history.map((h) => h.type) });
  // Every command the journal dispatched reached the participant, the do first.
  const ledger = await waitFor(() => {
    const l = w.ledger().filter((e) => e.sagaId === id);
    return l.some((e) => e.action === 'do') && l.some((e) => e.action === 'undo') ? l : null;
  }, 30_000, { what: 'the participant to get the do and the undo', intervalMs: 100 });
  t.same(ledger.map((e) => `${e.action} ${e.step}`).slice(0, 2), ['do reserve-inventory', 'undo reserve-inventory'], 'the do, then its undo', w.diag({ ledger }));
  t.same(ledgerViolations(ledger, id), [], 'the judge finds nothing wrong in the ledger');
  const received = new Set(w.received().filter((r) => r.sagaId === id).map((r) => r.commandId));
  t.same(agreementViolations(history, ledger, id, received), [], 'each dispatched command reached the participant');
});
