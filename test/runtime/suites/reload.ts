/**
 * The tests of reload.ts, start-requests.ts, log-throttle.ts and registry.ts in one process,
 * for mutation testing only (see engine.ts beside this file).
 */
process.env.TAP_BAIL ??= '1';
await import('../reload.test.js');
await import('../../reload/diff.test.js');
await import('../registry.test.js');
await import('../../security/log-throttle.test.js');
await import('../start-requests.test.js');
await import('../inbound.test.js');
await import('../engine-inputs.test.js');
