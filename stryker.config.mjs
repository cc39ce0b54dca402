// Mutation testing of the pure core and the runtime shell (`npm run mutate`; README, "Mutation
// testing"). Stryker's tap runner starts each test file with plain node, so the TypeScript is
// loaded by stryker.ts-loader.mjs. Only the tests that run engine code in-process can kill a
// mutant: the end-to-end tests start the built server from dist/, which Stryker does not mutate.

// The property tests' 1000 runs per property cost each mutant seconds; 100 runs still find
// what a mutant breaks in the core (the test files inherit this environment).
process.env.FC_RUNS ??= '100';

// The tests that kill runtime mutants, by the files they are for (README, "Mutation testing"):
// `STRYKER_TEST_SET=engine npx stryker run --mutate engine/runtime/engine.ts`. Only tests that
// run the runtime in this process count; each set is the smallest that covers its files, since
// every covering test file runs once per mutant (a test file costs 1 to 10 s on a busy machine).
const R = 'test/runtime';
const ENGINE = [
  `${R}/engine-inputs.test.ts`, `${R}/engine-paths.test.ts`, `${R}/engine.test.ts`, `${R}/inbound.test.ts`, `${R}/early-events.test.ts`,
  `${R}/message-versions.test.ts`,
];
const TEST_SETS = {
  // engine.ts
  engine: ENGINE,
  // inbound.ts
  inbound: [`${R}/inbound.test.ts`, `${R}/engine.test.ts`, `${R}/engine-inputs.test.ts`, 'test/security/fuzz-envelope.test.ts'],
  // lease.ts (a nats-server per file)
  lease: [`${R}/lease.test.ts`, `${R}/lease-paths.test.ts`],
  // outbox-relay.ts
  relay: [`${R}/outbox-relay.test.ts`],
  // timer-service.ts, retention.ts
  timers: [`${R}/timer-service.test.ts`, `${R}/retention.test.ts`],
  // reload.ts, start-requests.ts (a nats-server per file), log-throttle.ts, registry.ts
  reload: [`${R}/reload.test.ts`, 'test/reload/diff.test.ts', `${R}/start-requests.test.ts`, 'test/security/log-throttle.test.ts', `${R}/registry.test.ts`,
    `${R}/inbound.test.ts`, `${R}/engine-inputs.test.ts`],
  // change.ts, keyed-lock.ts, outgoing.ts, message-schema.ts, early-events.ts, rebuild.ts, redrive.ts
  helpers: [`${R}/change.test.ts`, `${R}/keyed-lock.test.ts`, `${R}/outgoing.test.ts`, `${R}/outgoing-rows.test.ts`, `${R}/engine-inputs.test.ts`,
    `${R}/engine.test.ts`, `${R}/early-events.test.ts`, `${R}/message-versions.test.ts`, `${R}/rebuild-redrive.test.ts`],
};

const set = process.env.STRYKER_TEST_SET;
if (set !== undefined && !Object.hasOwn(TEST_SETS, set)) throw new Error(`STRYKER_TEST_SET=${set}: not one of ${Object.keys(TEST_SETS).join(', ')}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  mutate: ['engine/core/**/*.ts', 'engine/runtime/**/*.ts'],
  tap: {
    // STRYKER_TEST_FILES (comma-separated globs) narrows the tests while iterating on a subset;
    // STRYKER_TEST_SET names one of the sets above.
    testFiles: process.env.STRYKER_TEST_FILES?.split(',') ?? (set === undefined ? undefined : TEST_SETS[set]) ?? [
      'test/core/**/*.test.ts',
      'test/runtime/**/*.test.ts',
      'test/definitions/**/*.test.ts',
      'test/store/**/*.test.ts',
      'test/api/**/*.test.ts',
    ],
    nodeArgs: ['--import', './stryker.ts-loader.mjs', '-r', '{{hookFile}}', '{{testFile}}'],
    forceBail: true,
  },
  coverageAnalysis: 'perTest',
  // A static mutant (a module-level initialiser) is active from import on, so Stryker would
  // run every test file for it; these are reported as Ignored instead, to keep a run short.
  ignoreStatic: true,
  // Two cores, shared: one mutant at a time per core at most.
  concurrency: 2,
  // The timeout is 1.5 times the initial run plus this; the initial run is timed once, so on a
  // shared machine whose load rises later, plain test runs would time out and count as kills.
  timeoutMS: 30_000,
  // Reuses the previous results for unchanged code and tests (reports/stryker-incremental.json).
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  ignorePatterns: ['dist', 'data', 'reports', '.tap', 'coverage', 'bench/results', '*.db'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: true },
  thresholds: { high: 85, low: 70, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
