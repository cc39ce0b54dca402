import Database from 'better-sqlite3';
import t from 'tap';
import { waitFor } from '../helpers/sagad.js';
import { order } from './api-client.js';
import { startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';
import { sound } from './kinds.js';

/**
 * The timer service failing and recovering, for real: another process takes the database's
 * write lock while a step's attempt timeout is due, so firing it fails (SQLITE_BUSY after the
 * 5 s busy timeout). Once the lock is released, that timer and every later one fire: the
 * step is retried to the end of its attempts and the saga compensates.
 */
const w = await startWorld(t);

t.test('a timer that fails to fire while the database is locked fires once it is free, and so do the ones after it', async (t) => {
  const { id } = await w.api.started(order('o-timerfail~silentreserve'));
  // The reservation is done but never answered: only attempt timeouts and retries move the saga now.
  await waitFor(() => w.ledger().some((e) => e.sagaId === id && e.step === 'reserve-inventory'), 10_000, { what: 'the first reserve attempt' });
  const failures = () => w.sagad.logs().filter((l) => l.includes('timer service failed'));
  t.same(failures(), [], 'no timer failure before the lock');

  const lock = new Database(w.dbFile);
  lock.pragma('busy_timeout = 10000');
  lock.exec('BEGIN IMMEDIATE');
  try {
    await waitFor(() => failures().length > 0, 30_000, { what: 'a timer firing to fail on the locked database', intervalMs: 100 });
  } finally {
    lock.exec('COMMIT');
    lock.close();
  }
  t.match(failures()[0], /database is locked/, 'it failed because the database was locked', w.diag());

  const doc = await w.api.settled(id, 30_000);
  t.equal(doc.state, 'compensated', 'the timers fired after all and the saga compensated', w.diag());
  const history = await w.api.history(id);
  t.equal(history.filter((h) => h.type === 'StepDispatched').length, 4, 'every attempt was sent, each after its predecessor timed out');
  t.match(history.find((h) => h.type === 'StepFailed')?.data, { step: 'reserve-inventory', status: 'timed_out', outcome: 'unknown' });
  t.same(realEffects(w.ledger(), id), [['reserve-inventory', 'do', 'done'], ['reserve-inventory', 'undo', 'done']], 'the reservation made is released');
  sound(t, w, sagaViolations(doc, history, w.ledger()));
  t.equal(await w.api.metric('sagad_timers_pending'), 0, 'no timer is left behind');
});
