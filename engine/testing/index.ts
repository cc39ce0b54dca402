/**
 * `sagad/testing`: test saga definitions offline, in your own test suite or with
 * `sagactl test`. Scenarios run through the same pure core the server runs, against scripted
 * participants on a simulated clock; every trace is checked against the saga guarantee.
 */
export { loadSagas, SagaLoadError } from './load.js';
export { testSaga, simulate, runScenario, type SagaReport, type ScenarioResult, type TestOptions } from './suite.js';
export { generateScenarios, ScenarioKind, UNLIMITED_FAILURES, type Scenario } from './scenarios.js';
export { checkGuarantee, Rule, type GuaranteeReport, type Violation } from './guarantee.js';
export { runSaga, type Outcome, type RunResult, type RunOptions } from './run.js';
export { parseScript, checkScript, emptyScript, ReplyKind, ScriptError, type Script, type ScriptedReply, type CancelAt } from './script.js';
export { sagaSamples, sampleInput, type Samples, type InputOrigin } from './samples.js';
export { sampleFromSchema } from './schema-sample.js';
export { effectMatches } from './effects.js';
export { traceLines, type TraceEntry, type ReplyClass } from './trace.js';
export { loadCases, parseCases, runCase, CASES_SYNTAX, type SagaCase, type CaseResult, type CasesResult } from './cases.js';
