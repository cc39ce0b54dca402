import t from 'tap';
import { configHelp, loadConfig } from '../engine/config.js';
import { SagaError } from '../engine/errors.js';
import { createLogger, isLogLevel } from '../engine/log.js';

t.test('defaults for an empty environment, frozen', async (t) => {
  const c = loadConfig({});
  t.same({ ...c }, {
    definitionsPath: './saga-definitions.yaml', dbPath: './data/sagad.db', httpPort: 8080, httpHost: '127.0.0.1',
    natsUrl: undefined, streams: 'create', apiToken: undefined, synchronous: 'FULL', snapshotEvery: 100,
    maxDeliver: 5, logLevel: 'info', natsPrefix: 'sagad', exprTimeoutMs: 50,
    natsCreds: undefined, natsNkey: undefined, natsUser: undefined, natsPassword: undefined, natsToken: undefined,
    natsTlsCa: undefined, natsTlsCert: undefined, natsTlsKey: undefined,
    apiReadToken: undefined, httpInsecure: false, metricsPublic: true, tlsCert: undefined, tlsKey: undefined, httpBodyLimit: 1_048_576, earlyEventTtl: '1h',
    maxMessageBytes: 1_048_576, maxJsonDepth: 64, dlqMax: 10_000, dlqMaxBytes: 104_857_600, lateSuccessWindowMs: 86_400_000, apiTokens: undefined,
    retentionMs: undefined, dlqRetentionMs: undefined, retentionIntervalMs: 60_000, retentionBatch: 100, archiveDir: undefined, archiveRotateMs: 3_600_000,
    streamMaxAgeMs: undefined, streamMaxBytes: undefined, heapGrowthPercent: 50,
  });
  t.ok(Object.isFrozen(c));
  t.same({ ...loadConfig({ SAGA_HTTP_PORT: '', NATS_URL: '' }) }, { ...c }, 'an empty variable counts as unset');
});

t.test('values are read, numbers coerced, enums case-insensitive', async (t) => {
  const c = loadConfig({
    SAGA_DEFINITIONS: '/etc/sagad/defs.yaml', SAGA_DB: '/var/lib/sagad/db', SAGA_HTTP_PORT: '0', SAGA_HTTP_HOST: '0.0.0.0',
    NATS_URL: 'nats://a:4222,nats://b:4222', SAGA_STREAMS: 'Verify', SAGA_API_TOKEN: 's3cret', SAGA_SYNCHRONOUS: 'normal',
    SAGA_SNAPSHOT_EVERY: '25', SAGA_MAX_DELIVER: '9', SAGA_LOG_LEVEL: 'DEBUG', SAGA_NATS_PREFIX: 'sagad_blue', UNRELATED: 'x',
  });
  t.same({ ...c }, {
    definitionsPath: '/etc/sagad/defs.yaml', dbPath: '/var/lib/sagad/db', httpPort: 0, httpHost: '0.0.0.0',
    natsUrl: 'nats://a:4222,nats://b:4222', streams: 'verify', apiToken: 's3cret', synchronous: 'NORMAL',
    snapshotEvery: 25, maxDeliver: 9, logLevel: 'debug', natsPrefix: 'sagad_blue', exprTimeoutMs: 50,
    natsCreds: undefined, natsNkey: undefined, natsUser: undefined, natsPassword: undefined, natsToken: undefined,
    natsTlsCa: undefined, natsTlsCert: undefined, natsTlsKey: undefined,
    apiReadToken: undefined, httpInsecure: false, metricsPublic: true, tlsCert: undefined, tlsKey: undefined, httpBodyLimit: 1_048_576, earlyEventTtl: '1h',
    maxMessageBytes: 1_048_576, maxJsonDepth: 64, dlqMax: 10_000, dlqMaxBytes: 104_857_600, lateSuccessWindowMs: 86_400_000, apiTokens: undefined,
    retentionMs: undefined, dlqRetentionMs: undefined, retentionIntervalMs: 60_000, retentionBatch: 100, archiveDir: undefined, archiveRotateMs: 3_600_000,
    streamMaxAgeMs: undefined, streamMaxBytes: undefined, heapGrowthPercent: 50,
  });
  t.equal(typeof c.httpPort, 'number');
});

t.test('every bad variable is reported at once, with its value and what is allowed', async (t) => {
  const bad = {
    SAGA_HTTP_PORT: '80a', SAGA_STREAMS: 'maybe', SAGA_SYNCHRONOUS: 'OFF', SAGA_SNAPSHOT_EVERY: '0',
    SAGA_MAX_DELIVER: '2.5', SAGA_LOG_LEVEL: 'trace', SAGA_NATS_PREFIX: 'a.b', NATS_URL: 'nats://a:1, nats://b:2',
  };
  let err: unknown;
  try {
    loadConfig({ ...bad, SAGA_DB: '/ok.db' });
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof SagaError);
  t.equal((err as SagaError).code, 'SAGA_ERR_CONFIG');
  const message = (err as Error).message;
  for (const [name, value] of Object.entries(bad)) t.match(message, `${name}=${JSON.stringify(value)}: must be `, name);
  t.match(message, 'SAGA_HTTP_PORT="80a": must be an integer from 0 to 65535');
  t.match(message, 'SAGA_STREAMS="maybe": must be one of create, verify');
  t.notMatch(message, 'SAGA_DB');
  t.equal(message.split('\n').length, 1 + Object.keys(bad).length, 'one line per variable');
  t.throws(() => loadConfig({ SAGA_HTTP_PORT: '65536' }), { code: 'SAGA_ERR_CONFIG' });
  t.throws(() => loadConfig({ SAGA_HTTP_PORT: '-1' }), { code: 'SAGA_ERR_CONFIG' });
});

t.test('help lists every variable with its default', async (t) => {
  const help = configHelp();
  for (const name of ['SAGA_DEFINITIONS', 'SAGA_DB', 'SAGA_HTTP_PORT', 'SAGA_HTTP_HOST', 'NATS_URL', 'SAGA_STREAMS', 'SAGA_API_TOKEN',
    'SAGA_SYNCHRONOUS', 'SAGA_SNAPSHOT_EVERY', 'SAGA_MAX_DELIVER', 'SAGA_LOG_LEVEL', 'SAGA_NATS_PREFIX']) {
    t.match(help, new RegExp(`^  ${name} `, 'm'), name);
  }
  t.match(help, /SAGA_HTTP_PORT .*default: 8080/);
  t.match(help, /NATS_URL .*embedded.*default: unset/);
});

t.test('logger: JSON lines, level filter, fields that cannot clash or throw', async (t) => {
  const lines: string[] = [];
  const log = createLogger('info', (l) => lines.push(l));
  log('debug', 'hidden');
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  log('warn', 'shown', { msg: 'field', n: 10n, err: Object.assign(new Error('boom'), { code: 'SAGA_ERR_X' }), cyclic });
  log('error', 'bare');
  t.equal(lines.length, 2);
  t.ok(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')));
  const first = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
  t.match(first, { level: 'warn', msg: 'shown', 'field.msg': 'field', n: '10', err: { message: 'boom', code: 'SAGA_ERR_X' }, cyclic: { a: 1, self: '[repeated]' } });
  t.ok(!Number.isNaN(Date.parse(String(first.time))));
  t.same(Object.keys(first).slice(0, 3), ['level', 'time', 'msg']);
  t.ok(isLogLevel('warn'));
  t.notOk(isLogLevel('trace'));
});
