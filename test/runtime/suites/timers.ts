/**
 * The timer service's and the retention service's tests in one process, for mutation testing
 * only (see engine.ts beside this file).
 */
process.env.TAP_BAIL ??= '1';
await import('../timer-service.test.js');
await import('../retention.test.js');
