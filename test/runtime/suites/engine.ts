/**
 * The engine's in-process test files in one process, for mutation testing only (not a
 * `.test.ts`, so tap's run of the suite does not run them twice): Stryker starts a process per
 * covering test file and mutant, and six processes cost more than the tests in them. tap stops
 * at the first failing assertion (TAP_BAIL), which is all Stryker needs to count a kill.
 */
process.env.TAP_BAIL ??= '1';
await import('../engine-inputs.test.js');
await import('../engine-paths.test.js');
await import('../engine.test.js');
await import('../inbound.test.js');
await import('../early-events.test.js');
await import('../message-versions.test.js');
