import t from 'tap';
import { timerId } from '../../engine/core/inputs.js';
import { emptyStep, isTerminal, publicStepState, type CompensationState, type InstanceState, type StepState } from '../../engine/core/state.js';

/** Small pure pieces of the instance state that other code and stored rows depend on. */

t.test('timer ids are stored with their rows: exact, distinct per kind, step and attempt', async (t) => {
  t.same([
    timerId({ kind: 'deadline' }),
    timerId({ kind: 'wait_timeout', step: 'await' }),
    timerId({ kind: 'attempt_timeout', step: 'pay', attempt: 2 }),
    timerId({ kind: 'retry', step: 'pay', attempt: 2 }),
    timerId({ kind: 'comp_timeout', step: 'pay', attempt: 1 }),
    timerId({ kind: 'comp_retry', step: 'pay', attempt: 3 }),
  ], ['deadline', 'wait_timeout:await', 'attempt_timeout:pay:2', 'retry:pay:2', 'comp_timeout:pay:1', 'comp_retry:pay:3'],
  'a restarted sagad finds the timers an earlier build stored');
});

t.test('the public step state folds the compensation into one word (DESIGN section 4)', async (t) => {
  const comp = (status: CompensationState['status']): CompensationState => ({ status, attempt: 1, commands: [], awaiting: null, startedAt: null, finishedAt: null, lastError: null });
  const step = (over: Partial<StepState>): StepState => ({ ...emptyStep, ...over });
  t.equal(publicStepState(step({ status: 'succeeded' })), 'succeeded', 'no compensation: the step\'s own status');
  t.equal(publicStepState(step({ status: 'timed_out' })), 'timed_out');
  t.equal(publicStepState(step({ status: 'succeeded', compensation: comp('compensated') })), 'compensated');
  t.equal(publicStepState(step({ status: 'succeeded', compensation: comp('compensation_failed') })), 'compensation_failed');
  for (const s of ['pending', 'running', 'retrying'] as const) {
    t.equal(publicStepState(step({ status: 'succeeded', compensation: comp(s) })), 'compensating', `compensation ${s}`);
  }
  t.same(emptyStep, {
    status: 'pending', attempt: 0, commands: [], awaiting: null, startedAt: null, finishedAt: null,
    lastError: null, output: null, outcome: null, doneSeq: null, compensation: null,
  }, 'a step not yet started');
});

t.test('terminal: completed, compensated and failed change no more without an operator or a late reply', async (t) => {
  const of = (status: InstanceState['status']) => isTerminal({ status } as InstanceState);
  t.same((['running', 'compensating', 'completed', 'compensated', 'failed'] as const).map(of), [false, false, true, true, true]);
});
