import { Ajv } from 'ajv';
import { SagaError } from './errors.js';
import type { LogLevel } from './log.js';

/** The server's settings, read from the environment by {@link loadConfig}; frozen. */
export interface Config {
  readonly definitionsPath: string;
  readonly dbPath: string;
  /** 0 binds any free port. */
  readonly httpPort: number;
  readonly httpHost: string;
  /** Undefined: sagad starts an embedded nats-server. */
  readonly natsUrl: string | undefined;
  readonly streams: 'create' | 'verify';
  /** Undefined: the HTTP API asks for no token. */
  readonly apiToken: string | undefined;
  readonly synchronous: 'FULL' | 'NORMAL';
  readonly snapshotEvery: number;
  readonly maxDeliver: number;
  readonly logLevel: LogLevel;
  readonly natsPrefix: string;
}

interface Variable {
  env: string;
  key: keyof Config;
  schema: Record<string, unknown>;
  /** What is allowed, as the end of "must be ...". */
  allowed: string;
  help: string;
}

const int = (minimum: number, maximum: number): Record<string, unknown> => ({ type: 'integer', minimum, maximum });
const text = { type: 'string', minLength: 1 };

const variables: readonly Variable[] = [
  { env: 'SAGA_DEFINITIONS', key: 'definitionsPath', schema: { ...text, default: './saga-definitions.yaml' }, allowed: 'a file path', help: 'saga definitions file (YAML)' },
  { env: 'SAGA_DB', key: 'dbPath', schema: { ...text, default: './data/sagad.db' }, allowed: 'a file path or a postgres:// URL', help: 'SQLite database file (one process; the embedded NATS store goes beside it), or a postgres:// or postgresql:// URL of the PostgreSQL database that replicas share (sslmode and PG* variables honoured)' },
  { env: 'SAGA_HTTP_PORT', key: 'httpPort', schema: { ...int(0, 65535), default: 8080 }, allowed: 'an integer from 0 to 65535 (0 = any free port)', help: 'HTTP API port; 0 = any free port' },
  { env: 'SAGA_HTTP_HOST', key: 'httpHost', schema: { ...text, default: '127.0.0.1' }, allowed: 'a host name or IP address', help: 'address the HTTP API binds to' },
  { env: 'NATS_URL', key: 'natsUrl', schema: { type: 'string', pattern: '^\\S+$' }, allowed: 'a NATS URL or a comma-separated list without spaces', help: 'NATS server URL(s); unset = start an embedded nats-server' },
  { env: 'SAGA_STREAMS', key: 'streams', schema: { type: 'string', enum: ['create', 'verify'], default: 'create' }, allowed: 'one of create, verify', help: 'create missing JetStream streams, or only verify they exist' },
  { env: 'SAGA_API_TOKEN', key: 'apiToken', schema: text, allowed: 'a non-empty string', help: 'bearer token the HTTP API requires; unset = no token' },
  { env: 'SAGA_SYNCHRONOUS', key: 'synchronous', schema: { type: 'string', enum: ['FULL', 'NORMAL'], default: 'FULL' }, allowed: 'one of FULL, NORMAL', help: 'SQLite synchronous pragma (NORMAL may lose the last commits on power loss)' },
  { env: 'SAGA_SNAPSHOT_EVERY', key: 'snapshotEvery', schema: { ...int(1, 1_000_000), default: 100 }, allowed: 'an integer from 1 to 1000000', help: 'journal events between instance snapshots' },
  { env: 'SAGA_MAX_DELIVER', key: 'maxDeliver', schema: { ...int(1, 1000), default: 5 }, allowed: 'an integer from 1 to 1000', help: 'JetStream deliveries of one message before it is dead-lettered' },
  { env: 'SAGA_LOG_LEVEL', key: 'logLevel', schema: { type: 'string', enum: ['debug', 'info', 'warn', 'error'], default: 'info' }, allowed: 'one of debug, info, warn, error', help: 'lowest level written to the log' },
  { env: 'SAGA_NATS_PREFIX', key: 'natsPrefix', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+$', default: 'sagad' }, allowed: 'letters, digits, "_" and "-" only', help: 'prefix of durable JetStream consumer names' },
];

const schema = {
  type: 'object',
  properties: Object.fromEntries(variables.map((v) => [v.env, v.schema])),
};
const validate = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, strict: true }).compile(schema);

/** Case-insensitive enums: `verify`, `Verify` and `VERIFY` all mean the same. */
function normalize(v: Variable, raw: string): string {
  const options = v.schema.enum;
  if (!Array.isArray(options)) return raw.trim();
  const match = options.find((o) => typeof o === 'string' && o.toLowerCase() === raw.trim().toLowerCase());
  return typeof match === 'string' ? match : raw;
}

/**
 * Reads the configuration from `env` (an empty variable counts as unset), fills defaults and
 * coerces numbers; throws one SagaError `SAGA_ERR_CONFIG` that lists every bad variable at once.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const data: Record<string, unknown> = {};
  for (const v of variables) {
    const raw = env[v.env];
    if (raw !== undefined && raw !== '') data[v.env] = normalize(v, raw);
  }
  if (!validate(data)) {
    const bad = new Set((validate.errors ?? []).map((e) => e.instancePath.slice(1)));
    const lines = variables.filter((v) => bad.has(v.env)).map((v) => `${v.env}=${JSON.stringify(env[v.env])}: must be ${v.allowed}`);
    throw new SagaError('SAGA_ERR_CONFIG', `invalid configuration (${lines.length} problem${lines.length === 1 ? '' : 's'}):\n  ${lines.join('\n  ')}`);
  }
  const config: Record<string, unknown> = {};
  for (const v of variables) config[v.key] = data[v.env];
  return Object.freeze(config) as unknown as Config;
}

/** The environment variables sagad reads, one indented line each with its meaning and default (for `--help`). */
export function configHelp(): string {
  const width = Math.max(...variables.map((v) => v.env.length));
  return variables.map((v) => {
    const def = v.schema.default === undefined ? 'unset' : String(v.schema.default);
    return `  ${v.env.padEnd(width)}  ${v.help} (default: ${def})`;
  }).join('\n');
}
