import { Ajv } from 'ajv';
import { parseNamedTokens } from './api/auth.js';
import { DURATION_PATTERN, parseDuration } from './definitions/duration.js';
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
  /** Messages waiting on one consumer past which it lags (SAGA_LAG_MAX); undefined: no limit. */
  readonly lagMax: number | undefined;
  /** Age in ms of a consumer's oldest waiting message past which it lags (SAGA_LAG_MAX_AGE); undefined: no limit. */
  readonly lagMaxAgeMs: number | undefined;
  readonly natsPrefix: string;
  /** Milliseconds one expression evaluation may take before it fails (SAGA_EXPR_TIMEOUT). */
  readonly exprTimeoutMs: number;
  /** NATS credentials: at most one of creds file, nkey seed file, user and password, token. */
  readonly natsCreds: string | undefined;
  readonly natsNkey: string | undefined;
  readonly natsUser: string | undefined;
  readonly natsPassword: string | undefined;
  readonly natsToken: string | undefined;
  /** TLS to NATS: a CA file to trust, and a client certificate and key for mutual TLS. */
  readonly natsTlsCa: string | undefined;
  readonly natsTlsCert: string | undefined;
  readonly natsTlsKey: string | undefined;
  /** Token for GET routes only; writes answer 403 with it. */
  readonly apiReadToken: string | undefined;
  /** True: the API may listen on a non-loopback address without a token. */
  readonly httpInsecure: boolean;
  /** False: /metrics asks for a token like the /v1 routes. */
  readonly metricsPublic: boolean;
  /** HTTPS: certificate and key files (PEM). */
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** Largest HTTP request body in bytes. */
  readonly httpBodyLimit: number;
  /** OpenTelemetry (docs/tracing.md): tracing is on when an endpoint is set and the SDK is not disabled. */
  readonly otlpEndpoint: string | undefined;
  readonly otlpTracesEndpoint: string | undefined;
  readonly otlpProtocol: 'http/protobuf' | 'http/json' | undefined;
  readonly otlpTracesProtocol: 'http/protobuf' | 'http/json' | undefined;
  readonly otelServiceName: string | undefined;
  readonly otelSampler: string | undefined;
  readonly otelSamplerArg: number | undefined;
  readonly otelDisabled: boolean | undefined;
  /** How long an event that arrived before its wait step started is kept, as written (`1h`); see `earlyEventTtlMs`. */
  readonly earlyEventTtl: string;
  /** Largest NATS message sagad reads (an envelope), in bytes; larger ones are parked at once. */
  readonly maxMessageBytes: number;
  /** Deepest JSON nesting of an envelope or an API body; deeper ones are parked or answered 400. */
  readonly maxJsonDepth: number;
  /** Most dead letters kept; the oldest are dropped beyond it. */
  readonly dlqMax: number;
  /** Most bytes of dead-letter bodies kept; the oldest are dropped beyond it. */
  readonly dlqMaxBytes: number;
  /** Milliseconds after a compensated instance ended that a late success may still reopen it (SAGA_LATE_SUCCESS_WINDOW). */
  readonly lateSuccessWindowMs: number;
  /** More admin tokens, each with a name for the journal: `name:secret,name:secret`. */
  readonly apiTokens: string | undefined;
  /** Finished instances older than this (ms) are archived and deleted; undefined: kept for ever. */
  readonly retentionMs: number | undefined;
  /** Dead letters older than this (ms) are deleted; undefined: kept for ever. */
  readonly dlqRetentionMs: number | undefined;
  /** Longest time between two retention passes, ms. */
  readonly retentionIntervalMs: number;
  /** Instances archived and deleted per retention transaction. */
  readonly retentionBatch: number;
  /** Where the archive files go; undefined: `archive/` beside the SQLite file, or ./data/archive with PostgreSQL. */
  readonly archiveDir: string | undefined;
  /** A new archive file after this long, ms. */
  readonly archiveRotateMs: number;
  /** max_age of the streams sagad creates, ms; undefined: no limit. */
  readonly streamMaxAgeMs: number | undefined;
  /** max_bytes of the streams sagad creates; undefined: no limit. */
  readonly streamMaxBytes: number | undefined;
  /** Percent the JS heap may grow past what a full garbage collection left before the next one; 0: V8's own factor. */
  readonly heapGrowthPercent: number;
}

/** Milliseconds of SAGA_EARLY_EVENT_TTL (validated by `loadConfig` as a duration). */
export function earlyEventTtlMs(c: Config): number {
  return parseDuration(c.earlyEventTtl) ?? 3_600_000;
}

interface Variable {
  env: string;
  key: keyof Config;
  schema: Record<string, unknown>;
  /** What is allowed, as the end of "must be ...". */
  allowed: string;
  help: string;
  /** Turns the validated value into the setting (a duration into milliseconds). */
  parse?: (value: unknown) => unknown;
  /** A duration string (`30s`, `7d`) the config holds as milliseconds. */
  duration?: true;
}

const bool = (def: boolean): Record<string, unknown> => ({ type: 'boolean', default: def });
const int = (minimum: number, maximum: number): Record<string, unknown> => ({ type: 'integer', minimum, maximum });
const text = { type: 'string', minLength: 1 };
const duration = { type: 'string', pattern: DURATION_PATTERN };
const durationAllowed = 'a duration such as 30s, 10m, 12h, 7d or 1d12h';

/** The standard OpenTelemetry variables sagad honours (docs/tracing.md); grpc is not offered. */
function tracingVariables(): Variable[] {
  const url = { type: 'string', pattern: '^https?://\\S+$' };
  const protocol = { type: 'string', enum: ['http/protobuf', 'http/json'] };
  const samplers = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];
  return [
    { env: 'OTEL_EXPORTER_OTLP_ENDPOINT', key: 'otlpEndpoint', schema: url, allowed: 'an http:// or https:// URL', help: 'OTLP/HTTP collector base URL (spans go to <url>/v1/traces); set it to turn tracing on' },
    { env: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', key: 'otlpTracesEndpoint', schema: url, allowed: 'an http:// or https:// URL', help: 'OTLP/HTTP URL spans are posted to, as given; also turns tracing on' },
    { env: 'OTEL_EXPORTER_OTLP_PROTOCOL', key: 'otlpProtocol', schema: protocol, allowed: 'one of http/protobuf, http/json', help: 'OTLP encoding (unset: http/protobuf)' },
    { env: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', key: 'otlpTracesProtocol', schema: protocol, allowed: 'one of http/protobuf, http/json', help: 'OTLP encoding of spans; overrides OTEL_EXPORTER_OTLP_PROTOCOL' },
    { env: 'OTEL_SERVICE_NAME', key: 'otelServiceName', schema: text, allowed: 'a non-empty string', help: 'service.name of the spans (unset: sagad)' },
    { env: 'OTEL_TRACES_SAMPLER', key: 'otelSampler', schema: { type: 'string', enum: samplers }, allowed: `one of ${samplers.join(', ')}`, help: 'which traces are recorded (unset: parentbased_always_on)' },
    { env: 'OTEL_TRACES_SAMPLER_ARG', key: 'otelSamplerArg', schema: { type: 'number', minimum: 0, maximum: 1 }, allowed: 'a number from 0 to 1', help: 'ratio of the traceidratio samplers (unset: 1)' },
    { env: 'OTEL_SDK_DISABLED', key: 'otelDisabled', schema: { type: 'boolean' }, allowed: 'true or false', help: 'true: no tracing even with an endpoint set' },
  ];
}

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
  { env: 'SAGA_MAX_DELIVER', key: 'maxDeliver', schema: { ...int(1, 1000), default: 5 }, allowed: 'an integer from 1 to 1000', help: 'attempts at one incoming message before it is dead-lettered (JetStream itself redelivers without limit: docs/operations.md#deliveries)' },
  { env: 'SAGA_LOG_LEVEL', key: 'logLevel', schema: { type: 'string', enum: ['debug', 'info', 'warn', 'error'], default: 'info' }, allowed: 'one of debug, info, warn, error', help: 'lowest level written to the log' },
  { env: 'SAGA_LAG_MAX', key: 'lagMax', schema: int(1, 1_000_000_000), allowed: 'an integer from 1 to 1000000000', help: 'messages waiting on one consumer past which it lags: a warning, the sagad_consumer_lagging gauge and a reason in /readyz (sagad stays ready); unset = no limit' },
  { env: 'SAGA_LAG_MAX_AGE', key: 'lagMaxAgeMs', schema: { type: 'string', pattern: DURATION_PATTERN }, allowed: 'a duration such as 30s, 5m or 1m30s', help: 'age of the oldest message waiting on one consumer past which it lags, as SAGA_LAG_MAX; unset = no limit', parse: (v) => (typeof v === 'string' ? parseDuration(v) ?? undefined : undefined) },
  { env: 'SAGA_NATS_PREFIX', key: 'natsPrefix', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+$', default: 'sagad' }, allowed: 'letters, digits, "_" and "-" only', help: 'prefix of durable JetStream consumer names' },
  { env: 'SAGA_EXPR_TIMEOUT', key: 'exprTimeoutMs', schema: { ...int(1, 60_000), default: 50 }, allowed: 'an integer from 1 to 60000 (milliseconds)', help: 'milliseconds of CPU one expression evaluation may use before it fails its step (20 times as long in wall-clock time at most)' },
  ...tracingVariables(),
  { env: 'NATS_CREDS', key: 'natsCreds', schema: text, allowed: 'a file path', help: 'NATS credentials file (JWT and nkey seed, as nsc writes it)' },
  { env: 'NATS_NKEY', key: 'natsNkey', schema: text, allowed: 'a file path', help: 'file holding an nkey user seed (SU...)' },
  { env: 'NATS_USER', key: 'natsUser', schema: text, allowed: 'a non-empty string', help: 'NATS user name (with NATS_PASSWORD)' },
  { env: 'NATS_PASSWORD', key: 'natsPassword', schema: text, allowed: 'a non-empty string', help: 'NATS password (with NATS_USER)' },
  { env: 'NATS_TOKEN', key: 'natsToken', schema: text, allowed: 'a non-empty string', help: 'NATS authentication token' },
  { env: 'NATS_TLS_CA', key: 'natsTlsCa', schema: text, allowed: 'a file path', help: 'CA certificate (PEM) that NATS server certificates must chain to; implies TLS' },
  { env: 'NATS_TLS_CERT', key: 'natsTlsCert', schema: text, allowed: 'a file path', help: 'client certificate (PEM) for mutual TLS with NATS, with NATS_TLS_KEY' },
  { env: 'NATS_TLS_KEY', key: 'natsTlsKey', schema: text, allowed: 'a file path', help: 'private key (PEM) of NATS_TLS_CERT' },
  { env: 'SAGA_API_READ_TOKEN', key: 'apiReadToken', schema: text, allowed: 'a non-empty string', help: 'bearer token for GET routes only (writes answer 403); needs SAGA_API_TOKEN' },
  { env: 'SAGA_HTTP_INSECURE', key: 'httpInsecure', schema: bool(false), allowed: 'true or false', help: 'allow a non-loopback SAGA_HTTP_HOST without SAGA_API_TOKEN' },
  { env: 'SAGA_METRICS_PUBLIC', key: 'metricsPublic', schema: bool(true), allowed: 'true or false', help: 'false: /metrics needs a token like the /v1 routes' },
  { env: 'SAGA_TLS_CERT', key: 'tlsCert', schema: text, allowed: 'a file path', help: 'HTTPS certificate (PEM), with SAGA_TLS_KEY; unset = plain HTTP' },
  { env: 'SAGA_TLS_KEY', key: 'tlsKey', schema: text, allowed: 'a file path', help: 'private key (PEM) of SAGA_TLS_CERT' },
  { env: 'SAGA_EARLY_EVENT_TTL', key: 'earlyEventTtl', schema: { type: 'string', pattern: DURATION_PATTERN, default: '1h' }, allowed: 'a duration above zero, like 30m, 1h or 1d', help: 'how long an event that arrived before the wait step awaiting it started is kept for its instance, then dead-lettered' },
  { env: 'SAGA_HTTP_BODY_LIMIT', key: 'httpBodyLimit', schema: { ...int(1024, 1_073_741_824), default: 1_048_576 }, allowed: 'an integer from 1024 to 1073741824 (bytes)', help: 'largest HTTP request body in bytes' },
  { env: 'SAGA_MAX_MESSAGE_BYTES', key: 'maxMessageBytes', schema: { ...int(1024, 67_108_864), default: 1_048_576 }, allowed: 'an integer from 1024 to 67108864 (bytes)', help: 'largest NATS message (envelope) read; a larger one is dead-lettered at once' },
  { env: 'SAGA_MAX_JSON_DEPTH', key: 'maxJsonDepth', schema: { ...int(2, 10_000), default: 64 }, allowed: 'an integer from 2 to 10000', help: 'deepest JSON nesting of an envelope or API body; deeper is dead-lettered at once, or a 400' },
  { env: 'SAGA_DLQ_MAX', key: 'dlqMax', schema: { ...int(1, 100_000_000), default: 10_000 }, allowed: 'an integer from 1 to 100000000', help: 'dead letters kept; beyond it the oldest are dropped (counted in sagad_dead_letters_dropped_total)' },
  { env: 'SAGA_DLQ_MAX_BYTES', key: 'dlqMaxBytes', schema: { ...int(1_048_576, 1_099_511_627_776), default: 104_857_600 }, allowed: 'an integer from 1048576 to 1099511627776 (bytes)', help: 'bytes of dead-letter bodies kept; beyond it the oldest are dropped' },
  { env: 'SAGA_LATE_SUCCESS_WINDOW', key: 'lateSuccessWindowMs', schema: { type: 'string', pattern: DURATION_PATTERN, default: '24h' }, allowed: 'a duration such as 30m, 24h or 7d', help: 'how long after a compensated instance ended a late success still reopens it to compensate that step; later ones are dead-lettered' },
  { env: 'SAGA_API_TOKENS', key: 'apiTokens', schema: { type: 'string', pattern: '^[A-Za-z0-9_.@-]+:[^\\s,]+(,[A-Za-z0-9_.@-]+:[^\\s,]+)*$' }, allowed: 'name:secret pairs separated by commas, names of letters, digits and _.@-', help: 'more admin tokens with names, which the journal records with each operator action: alice:s3cret,ci:t0ken' },
  // Retention and archive (docs/operations.md).
  { env: 'SAGA_RETENTION', key: 'retentionMs', schema: duration, allowed: durationAllowed, duration: true, help: 'finished instances (completed, compensated; not failed) older than this are archived, then deleted, compensated ones no sooner than SAGA_LATE_SUCCESS_WINDOW; unset = kept for ever' },
  { env: 'SAGA_DLQ_RETENTION', key: 'dlqRetentionMs', schema: duration, allowed: durationAllowed, duration: true, help: 'dead letters received longer ago than this are deleted; unset = kept for ever' },
  { env: 'SAGA_RETENTION_INTERVAL', key: 'retentionIntervalMs', schema: { ...duration, default: '1m' }, allowed: durationAllowed, duration: true, help: 'longest time between two retention passes' },
  { env: 'SAGA_RETENTION_BATCH', key: 'retentionBatch', schema: { ...int(1, 10_000), default: 100 }, allowed: 'an integer from 1 to 10000', help: 'instances archived and deleted per retention transaction' },
  { env: 'SAGA_ARCHIVE_DIR', key: 'archiveDir', schema: text, allowed: 'a directory path', help: 'where retention writes the archive (gzip NDJSON); unset = archive/ beside the SQLite file, ./data/archive with PostgreSQL' },
  { env: 'SAGA_ARCHIVE_ROTATE', key: 'archiveRotateMs', schema: { ...duration, default: '1h' }, allowed: durationAllowed, duration: true, help: 'a new archive file after this long' },
  { env: 'SAGA_STREAM_MAX_AGE', key: 'streamMaxAgeMs', schema: duration, allowed: durationAllowed, duration: true, help: 'max_age (message TTL) of the JetStream streams sagad creates; unset = no limit' },
  { env: 'SAGA_HEAP_GROWTH', key: 'heapGrowthPercent', schema: { ...int(0, 1000), default: 50 }, allowed: 'an integer from 0 to 1000 (percent)', help: 'how far, in percent, the JavaScript heap may grow past the live data a full garbage collection found before the next one (V8 --heap-growing-percent); lower uses less memory and a little more CPU; 0 = V8\'s own choice, up to 300' },
  { env: 'SAGA_STREAM_MAX_BYTES', key: 'streamMaxBytes', schema: { ...int(1024, Number.MAX_SAFE_INTEGER) }, allowed: 'an integer of at least 1024 (bytes)', help: 'max_bytes of the JetStream streams sagad creates; unset = no limit' },
];

const schema = {
  type: 'object',
  properties: Object.fromEntries(variables.map((v) => [v.env, v.schema])),
};
const validate = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, strict: true }).compile(schema);

/** Case-insensitive enums: `verify`, `Verify` and `VERIFY` all mean the same. */
function normalize(v: Variable, raw: string): string {
  if (v.schema.type === 'boolean') return raw.trim().toLowerCase();
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
  for (const v of variables) {
    const value = data[v.env];
    config[v.key] = v.parse !== undefined ? v.parse(value) : v.duration === true && typeof value === 'string' ? parseDuration(value) : value;
  }
  // Durations are read as text and kept as milliseconds.
  config.lateSuccessWindowMs = parseDuration(String(data.SAGA_LATE_SUCCESS_WINDOW)) ?? 0;
  const conflicts = combinationProblems(config as unknown as Config);
  if (conflicts.length > 0) {
    throw new SagaError('SAGA_ERR_CONFIG', `invalid configuration (${conflicts.length} problem${conflicts.length === 1 ? '' : 's'}):\n  ${conflicts.join('\n  ')}`);
  }
  return Object.freeze(config) as unknown as Config;
}

/** Pure: true for an address only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

/** Pure: settings that are each valid but wrong together, one sentence each. */
function combinationProblems(c: Config): string[] {
  const problems: string[] = [];
  const set = (...names: (string | undefined)[]): number => names.filter((n) => n !== undefined).length;
  if (set(c.natsCreds, c.natsNkey, c.natsUser ?? c.natsPassword, c.natsToken) > 1) {
    problems.push('NATS_CREDS, NATS_NKEY, NATS_USER/NATS_PASSWORD and NATS_TOKEN are alternatives: set only one way to authenticate');
  }
  if ((c.natsUser === undefined) !== (c.natsPassword === undefined)) problems.push('NATS_USER and NATS_PASSWORD go together: set both or neither');
  if ((c.natsTlsCert === undefined) !== (c.natsTlsKey === undefined)) problems.push('NATS_TLS_CERT and NATS_TLS_KEY go together: set both or neither');
  const natsSecurity = set(c.natsCreds, c.natsNkey, c.natsUser, c.natsToken, c.natsTlsCa, c.natsTlsCert);
  if (c.natsUrl === undefined && natsSecurity > 0) {
    problems.push('NATS credentials and TLS settings need NATS_URL: the embedded nats-server (NATS_URL unset) takes none');
  }
  if ((c.tlsCert === undefined) !== (c.tlsKey === undefined)) problems.push('SAGA_TLS_CERT and SAGA_TLS_KEY go together: set both or neither');
  if (c.apiReadToken !== undefined && c.apiToken === undefined) {
    problems.push('SAGA_API_READ_TOKEN needs SAGA_API_TOKEN: without it every route, writes included, is open');
  }
  if (earlyEventTtlMs(c) <= 0) problems.push(`SAGA_EARLY_EVENT_TTL=${c.earlyEventTtl} must be longer than zero`);
  // A pass or a file every few milliseconds would keep the process busy for nothing.
  if (c.retentionIntervalMs < 1000) problems.push(`SAGA_RETENTION_INTERVAL must be at least 1s (it is ${c.retentionIntervalMs} ms): the time between two retention passes`);
  if (c.archiveRotateMs < 1000) problems.push(`SAGA_ARCHIVE_ROTATE must be at least 1s (it is ${c.archiveRotateMs} ms): how long one archive file is written`);
  if (c.lagMaxAgeMs !== undefined && c.lagMaxAgeMs <= 0) problems.push('SAGA_LAG_MAX_AGE must be longer than zero (unset it for no limit): any message waiting would count as lagging');
  if (c.apiTokens !== undefined && c.apiToken === undefined) {
    problems.push('SAGA_API_TOKENS adds named tokens to SAGA_API_TOKEN: set SAGA_API_TOKEN too');
  }
  if (c.apiReadToken !== undefined && c.apiReadToken === c.apiToken) problems.push('SAGA_API_READ_TOKEN must differ from SAGA_API_TOKEN');
  if (c.apiTokens !== undefined) {
    // A secret names one caller: shared, the journal and the read-only limit cannot tell its holders apart.
    const holders = new Map<string, string[]>();
    const hold = (who: string, secret: string | undefined) => {
      if (secret !== undefined) holders.set(secret, [...(holders.get(secret) ?? []), who]);
    };
    hold('SAGA_API_TOKEN', c.apiToken);
    hold('SAGA_API_READ_TOKEN', c.apiReadToken);
    const names = new Set<string>();
    for (const { name, secret } of parseNamedTokens(c.apiTokens)) {
      if (names.has(name)) problems.push(`SAGA_API_TOKENS names ${name} twice: each name must be one token's, as the journal records it`);
      names.add(name);
      hold(`the token ${name} of SAGA_API_TOKENS`, secret);
    }
    for (const who of holders.values()) {
      if (who.length > 1) problems.push(`${who.join(' and ')} have the same secret: give each token its own`);
    }
  }
  if (!c.metricsPublic && c.apiToken === undefined) problems.push('SAGA_METRICS_PUBLIC=false needs SAGA_API_TOKEN: there is no token to ask for');
  if (!isLoopback(c.httpHost) && c.apiToken === undefined && !c.httpInsecure) {
    problems.push(`SAGA_HTTP_HOST=${c.httpHost} is reachable from other machines but SAGA_API_TOKEN is unset: set a token, bind to 127.0.0.1, or set SAGA_HTTP_INSECURE=true to serve without one`);
  }
  return problems;
}

/** The environment variables sagad reads, one indented line each with its meaning and default (for `--help`). */
export function configHelp(): string {
  const width = Math.max(...variables.map((v) => v.env.length));
  return variables.map((v) => {
    const def = v.schema.default === undefined ? 'unset' : String(v.schema.default);
    return `  ${v.env.padEnd(width)}  ${v.help} (default: ${def})`;
  }).join('\n');
}
