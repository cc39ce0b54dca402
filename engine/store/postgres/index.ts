/** The PostgreSQL adapter of the store port: replicas sharing one database (issue 9). */
export { openPostgresStore, type PostgresOptions } from './adapter.js';
export { isPostgresUrl, redact } from './connect.js';
export { pgMigrations, pgSchemaVersion } from './schema.js';
