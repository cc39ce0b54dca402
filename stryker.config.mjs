// Mutation testing of the pure core and the runtime shell (`npm run mutate`; README, "Mutation
// testing"). Stryker's tap runner starts each test file with plain node, so the TypeScript is
// loaded by ts-loader.mjs, as tap loads it. Only the tests that run engine code in-process can
// kill a mutant: the end-to-end tests start the built server from dist/, which Stryker does not mutate.

// The property tests' 1000 runs per property cost each mutant seconds; 100 runs still find
// what a mutant breaks in the core (the test files inherit this environment).
process.env.FC_RUNS ??= '100';

// The tests that kill runtime mutants, by the files they are for (README, "Mutation testing"):
// `STRYKER_TEST_SET=engine npx stryker run --mutate engine/runtime/engine.ts`. Only tests that
// run the runtime in this process count. Each set is one suite (test/runtime/suites/) that
// imports the group's test files into one process and stops at the first failure: Stryker
// starts a process per covering test file and mutant, and the start costs more than the tests.
const TEST_SETS = {
  // engine.ts, early-delivery.ts, start-plan.ts
  engine: ['test/runtime/suites/engine.ts'],
  inbound: ['test/runtime/suites/inbound.ts'],
  // lease.ts; a nats-server per test file
  lease: ['test/runtime/suites/lease.ts'],
  relay: ['test/runtime/outbox-relay.test.ts'],
  // timer-service.ts, retention.ts
  timers: ['test/runtime/suites/timers.ts'],
  // reload.ts, start-requests.ts (a nats-server), log-throttle.ts, registry.ts
  reload: ['test/runtime/suites/reload.ts'],
  // change.ts, keyed-lock.ts, outgoing.ts, message-schema.ts, early-events.ts, rebuild.ts, redrive.ts
  helpers: ['test/runtime/suites/helpers.ts'],
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
    nodeArgs: ['--import', './ts-loader.mjs', '-r', '{{hookFile}}', '{{testFile}}'],
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
  ignorePatterns: ['dist', 'data', 'reports', '.tap', 'coverage', 'bench/results', '*.db', '.stryker-tmp*'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: true },
  thresholds: { high: 85, low: 70, break: null },
  // The sandboxes; on a tmpfs (STRYKER_TEMP_DIR=/dev/shm/stryker) the tests' SQLite files skip the disk's fsync.
  tempDirName: process.env.STRYKER_TEMP_DIR ?? '.stryker-tmp',
  cleanTempDir: true,
};
