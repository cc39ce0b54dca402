// Mutation testing of the pure core and the runtime shell (`npm run mutate`; README, "Mutation
// testing"). Stryker's tap runner starts each test file with plain node, so the TypeScript is
// loaded by stryker.ts-loader.mjs. Only the tests that run engine code in-process can kill a
// mutant: the end-to-end tests start the built server from dist/, which Stryker does not mutate.

// The property tests' 1000 runs per property cost each mutant seconds; 100 runs still find
// what a mutant breaks in the core (the test files inherit this environment).
process.env.FC_RUNS ??= '100';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  mutate: ['engine/core/**/*.ts', 'engine/runtime/**/*.ts'],
  tap: {
    // STRYKER_TEST_FILES (comma-separated globs) narrows the tests while iterating on a subset.
    testFiles: process.env.STRYKER_TEST_FILES?.split(',') ?? [
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
