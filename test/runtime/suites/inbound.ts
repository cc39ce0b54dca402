/**
 * The inbound handler's in-process test files in one process, for mutation testing only (see
 * engine.ts beside this file).
 */
process.env.TAP_BAIL ??= '1';
await import('../inbound.test.js');
await import('../engine.test.js');
await import('../engine-inputs.test.js');
await import('../../security/fuzz-envelope.test.js');
