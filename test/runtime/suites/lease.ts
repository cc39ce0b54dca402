/**
 * The SQLite lease's tests in one process, for mutation testing only (see engine.ts beside
 * this file).
 */
process.env.TAP_BAIL ??= '1';
await import('../lease.test.js');
await import('../lease-paths.test.js');
await import('../lease-skew.test.js');
await import('../lease-store-lost.test.js');
await import('../lease-db.test.js');
