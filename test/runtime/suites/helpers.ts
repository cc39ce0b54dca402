/**
 * The tests of the engine's helpers (change, keyed-lock, outgoing, message-schema,
 * early-events, rebuild, redrive) in one process, for mutation testing only (see engine.ts
 * beside this file).
 */
process.env.TAP_BAIL ??= '1';
await import('../change.test.js');
await import('../keyed-lock.test.js');
await import('../outgoing.test.js');
await import('../outgoing-rows.test.js');
await import('../rebuild-redrive.test.js');
await import('../early-events.test.js');
await import('../message-versions.test.js');
await import('../engine-inputs.test.js');
await import('../engine.test.js');
