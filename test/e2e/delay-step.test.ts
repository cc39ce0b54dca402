import t from 'tap';
import { join } from 'node:path';
import { waitFor } from '../helpers/sagad.js';
import { cli } from '../cli/helpers.js';
import { order, type InstanceDoc } from './api-client.js';
import { FIXTURES, startWorld } from './harness.js';
import { realEffects, sagaViolations } from './invariants.js';
import { sound, stepEvents, stepReaches, types } from './kinds.js';

/**
 * The `delay` step end to end (sagad, nats-server, the participant, a SQLite file;
 * fixtures/delay-child.yaml): a delay of 3 s survives kill -9 of sagad and fires once after
 * the restart; a delay until a past time goes on at once; an until that is not a time
 * compensates; a cancel during a delay compensates what was done before it.
 */
const DEFS = join(FIXTURES, 'delay-child.yaml');
const w = await startWorld(t, { definitions: DEFS });
const delayed = { compensable: ['reserve-inventory', 'charge-payment'], commandSteps: ['reserve-inventory', 'charge-payment', 'ship-order'] };
const dated = { compensable: ['reserve-inventory'], commandSteps: ['reserve-inventory', 'ship-order'] };

async function startSaga(saga: string, input: Record<string, unknown>): Promise<InstanceDoc> {
  const r = await w.api.req<InstanceDoc>('POST', `/v1/sagas/${saga}/instances`, { input });
  if (r.status !== 201) throw new Error(`start of ${saga} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

t.test('kill -9 during a delay: the delay fires after the restart, once, and the saga completes', async (t) => {
  const a = await startSaga('delayed-order', order('o-delay-kill'));
  const waiting = await stepReaches(w, a.id, 'cool-off', ['running']);
  const timer = (waiting as InstanceDoc & { timers?: { kind: string; step: string | null; dueAt: string }[] }).timers?.find((x) => x.kind === 'delay');
  t.match(timer, { kind: 'delay', step: 'cool-off' }, 'the delay is a stored timer');
  await w.sagad.kill9();
  // The delay comes due while sagad is down.
  await waitFor(() => Date.now() > Date.parse(timer?.dueAt ?? '') + 200, 10_000, { what: 'the delay to come due while sagad is down' });
  await w.restartSagad();
  const done = await w.api.settled(a.id, 30_000);
  t.equal(done.state, 'completed', 'the saga completes after the restart', w.diag());
  const history = await w.api.history(a.id);
  t.equal(types(history, 'cool-off').filter((x) => x === 'StepSucceeded').length, 1, 'the delay ended once');
  const started = history.find((h) => h.type === 'DelayStarted');
  const ended = history.find((h) => h.type === 'StepSucceeded' && h.data.step === 'cool-off');
  t.ok(started !== undefined && ended !== undefined && Date.parse(String((ended as { at?: string }).at ?? '')) >= 0, 'both ends of the delay are journaled');
  t.same(realEffects(w.ledger(), a.id), [['reserve-inventory', 'do', 'done'], ['charge-payment', 'do', 'done'], ['ship-order', 'do', 'done']], 'each step took effect once');
  sound(t, w, sagaViolations(done, history, w.ledger(), delayed));
});

t.test('a delay until a past time goes on at once; one that is not a time compensates', async (t) => {
  const past = await startSaga('dated-order', { ...order('o-dated-past'), shipAt: '2020-01-01T00:00:00Z' });
  const done = await w.api.settled(past.id);
  t.equal(done.state, 'completed', 'a past ship date ships at once', w.diag());
  const h = await w.api.history(past.id);
  t.match(h.find((e) => e.type === 'StepSucceeded' && e.data.step === 'ship-day')?.data, { output: { until: '2020-01-01T00:00:00.000Z' } }, 'its result is the time it waited for');
  sound(t, w, sagaViolations(done, h, w.ledger(), dated));

  const soon = new Date(Date.now() + 1500).toISOString();
  const future = await startSaga('dated-order', { ...order('o-dated-future'), shipAt: soon });
  await stepReaches(w, future.id, 'ship-day', ['running']);
  const shipped = await w.api.settled(future.id, 20_000);
  t.equal(shipped.state, 'completed', 'a future ship date ships once it comes', w.diag());
  const hf = await w.api.history(future.id);
  const shipCmd = hf.find((e) => e.type === 'StepDispatched' && e.data.step === 'ship-order') as { at?: string } | undefined;
  t.ok(Date.parse(shipCmd?.at ?? '') >= Date.parse(soon), 'not before the ship date');

  const bad = await startSaga('dated-order', { ...order('o-dated-bad'), shipAt: 'next tuesday' });
  const comp = await w.api.settled(bad.id);
  t.equal(comp.state, 'compensated', 'an until that is not a time fails the saga', w.diag());
  t.match(comp.reason, /ship-day failed: until: \$input\.shipAt gave "next tuesday", which is not an ISO timestamp/, 'with the reason');
  const hb = await w.api.history(bad.id);
  t.same(realEffects(w.ledger(), bad.id), [['reserve-inventory', 'do', 'done'], ['reserve-inventory', 'undo', 'done']]);
  sound(t, w, sagaViolations(comp, hb, w.ledger(), dated));
});

t.test('a cancel during a delay compensates what was done before it, and the delay never fires', async (t) => {
  const a = await startSaga('delayed-order', order('o-delay-cancel'));
  await stepReaches(w, a.id, 'cool-off', ['running']);
  const why = await cli(['why', a.id, '--db', w.dbFile], { columns: 200 });
  t.match(why.out, /Step\s+cool-off\s+is\s+a\s+delay\s+that\s+began[\s\S]*;\s+it\s+ends[\s\S]*\(in\s+\d/, 'sagactl why says the delay ends when', { out: why.out, err: why.err });
  const r = await w.api.req('POST', `/v1/instances/${a.id}/cancel`, { reason: 'changed my mind' });
  t.equal(r.status, 200, 'the cancel is accepted', { body: r.body });
  const done = await w.api.settled(a.id);
  t.equal(done.state, 'compensated', 'the saga compensates', w.diag());
  const history = await w.api.history(a.id);
  t.same(stepEvents(history, 'StepSucceeded', 'StepGivenUp', 'StepCompensated'), [
    ['StepSucceeded', 'reserve-inventory'], ['StepGivenUp', 'cool-off'], ['StepCompensated', 'reserve-inventory'],
  ], 'the delay is given up and the reservation released');
  const timers = ((await w.api.instance(a.id)) as InstanceDoc & { timers?: unknown[] }).timers;
  t.same(timers, [], 'no timer is left');
  t.same(realEffects(w.ledger(), a.id), [['reserve-inventory', 'do', 'done'], ['reserve-inventory', 'undo', 'done']]);
  sound(t, w, sagaViolations(done, history, w.ledger(), delayed));
});
