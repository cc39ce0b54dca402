/**
 * Testing a saga offline: generate its scenarios, run each through the pure core against
 * scripted participants on a simulated clock, and check the saga guarantee on every trace.
 */
import type { CompiledSaga } from '../core/index.js';
import { checkGuarantee, type GuaranteeReport } from './guarantee.js';
import { runSaga, type RunOptions, type RunResult } from './run.js';
import { sagaSamples, type InputOrigin, type Samples } from './samples.js';
import { generateScenarios, type Scenario, type ScenarioKind } from './scenarios.js';
import { checkScript, parseScript, type Script } from './script.js';

/** One scenario run and checked. `ok` is false exactly when the guarantee was broken. */
export interface ScenarioResult extends RunResult {
  readonly name: string;
  readonly kind: ScenarioKind | 'script' | 'case';
  readonly input: unknown;
  readonly guarantee: GuaranteeReport;
  readonly ok: boolean;
}

/** A saga's scenarios: `ok` when the guarantee held in every one. */
export interface SagaReport {
  readonly saga: string;
  readonly input: unknown;
  readonly inputOrigin: InputOrigin;
  readonly scenarios: readonly ScenarioResult[];
  /** What could not be generated, and scenarios whose happy path did not complete. */
  readonly notes: readonly string[];
  readonly ok: boolean;
}

/** Options of testSaga and simulate. */
export interface TestOptions extends RunOptions {
  /** The saga input; default a sample built from the trigger's schema and what the expressions read. */
  readonly input?: unknown;
}

/**
 * Pure: runs one scripted scenario and checks the guarantee on its trace. `base` saves
 * building the saga's samples again when many scenarios of one saga run.
 */
export function runScenario(saga: CompiledSaga, scenario: Scenario, options: TestOptions = {}, base?: Samples): ScenarioResult {
  const input = scenario.input ?? options.input;
  const samples = base === undefined ? sagaSamples(saga, input) : input === undefined ? base : { ...base, input, inputOrigin: 'given' as const };
  const run = runSaga(saga, samples, scenario.script, options);
  const guarantee = checkGuarantee(saga, run.trace);
  return { ...run, name: scenario.name, kind: scenario.kind, input: samples.input, guarantee, ok: guarantee.violations.length === 0 };
}

/** Pure: every generated scenario of the saga, run and checked. */
export function testSaga(saga: CompiledSaga, options: TestOptions = {}): SagaReport {
  const samples = sagaSamples(saga, options.input);
  const { scenarios, notes } = generateScenarios(saga, samples);
  const results = scenarios.map((s) => runScenario(saga, s, options, samples));
  const happy = results[0];
  const allNotes = [...notes];
  if (happy !== undefined && happy.outcome !== 'completed') {
    const given = samples.inputOrigin === 'given';
    const why = happy.notes.length > 0 ? `: ${happy.notes.join('; ')}` : '';
    const todo = given ? 'check the input' : 'give an input with --input';
    allNotes.unshift(`with ${given ? 'the given' : 'the sample'} input the happy path ends ${happy.outcome}, not completed${why}; ${todo}`);
  }
  return {
    saga: saga.name, input: samples.input, inputOrigin: samples.inputOrigin, scenarios: results, notes: allNotes,
    ok: results.every((r) => r.ok),
  };
}

/** Pure: runs the saga under a script (a Script, or script texts like `book-hotel=fail`); throws ScriptError for a bad one. */
export function simulate(saga: CompiledSaga, options: TestOptions & { readonly script?: Script | string | readonly string[] } = {}): ScenarioResult {
  const raw = options.script ?? [];
  const script = typeof raw === 'string' ? parseScript([raw]) : Array.isArray(raw) ? parseScript(raw as readonly string[]) : raw as Script;
  checkScript(saga, script);
  return { ...runScenario(saga, { name: 'script', kind: 'happy', script }, options), kind: 'script' };
}
