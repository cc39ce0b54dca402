import t from 'tap';
import { configHelp, loadConfig } from '../engine/config.js';

t.test('retention, archive and stream limits: durations become milliseconds', async (t) => {
  const c = loadConfig({
    SAGA_RETENTION: '7d', SAGA_DLQ_RETENTION: '30d', SAGA_RETENTION_INTERVAL: '30s', SAGA_RETENTION_BATCH: '250',
    SAGA_ARCHIVE_DIR: '/var/lib/sagad/archive', SAGA_ARCHIVE_ROTATE: '1d', SAGA_STREAM_MAX_AGE: '14d', SAGA_STREAM_MAX_BYTES: '1073741824',
  });
  t.same({
    r: c.retentionMs, d: c.dlqRetentionMs, i: c.retentionIntervalMs, b: c.retentionBatch, dir: c.archiveDir, rot: c.archiveRotateMs,
    age: c.streamMaxAgeMs, bytes: c.streamMaxBytes,
  }, {
    r: 7 * 86_400_000, d: 30 * 86_400_000, i: 30_000, b: 250, dir: '/var/lib/sagad/archive', rot: 86_400_000,
    age: 14 * 86_400_000, bytes: 1_073_741_824,
  });
  t.equal(loadConfig({ SAGA_RETENTION: '1h30m' }).retentionMs, 5_400_000, 'compound durations');
});

t.test('a bad duration or size is reported with what is allowed, all at once', async (t) => {
  t.throws(() => loadConfig({ SAGA_RETENTION: '7 days', SAGA_STREAM_MAX_AGE: '-1s', SAGA_STREAM_MAX_BYTES: '1k', SAGA_RETENTION_BATCH: '0' }), {
    code: 'SAGA_ERR_CONFIG',
    message: /4 problems[\s\S]*SAGA_RETENTION="7 days": must be a duration such as 30s[\s\S]*SAGA_RETENTION_BATCH="0"[\s\S]*SAGA_STREAM_MAX_AGE="-1s"[\s\S]*SAGA_STREAM_MAX_BYTES="1k": must be an integer of at least 1024/,
  });
});

t.test('intervals of zero are refused: a retention pass, an archive file or a lag age of 0 would keep the process busy or lagging for nothing', async (t) => {
  t.throws(() => loadConfig({ SAGA_RETENTION_INTERVAL: '0s', SAGA_ARCHIVE_ROTATE: '0ms', SAGA_LAG_MAX_AGE: '0s' }), {
    code: 'SAGA_ERR_CONFIG',
    message: /3 problems[\s\S]*SAGA_RETENTION_INTERVAL must be at least 1s \(it is 0 ms\)[\s\S]*SAGA_ARCHIVE_ROTATE must be at least 1s[\s\S]*SAGA_LAG_MAX_AGE must be longer than zero/,
  });
  t.equal(loadConfig({ SAGA_RETENTION_INTERVAL: '1s', SAGA_ARCHIVE_ROTATE: '1s', SAGA_LAG_MAX_AGE: '1s' }).retentionIntervalMs, 1000, '1s is taken');
});

t.test('--help lists the new variables with their defaults', async (t) => {
  const help = configHelp();
  t.match(help, /SAGA_RETENTION\s+finished instances .* \(default: unset\)/);
  t.match(help, /SAGA_RETENTION_INTERVAL\s+longest time between two retention passes \(default: 1m\)/);
  t.match(help, /SAGA_STREAM_MAX_BYTES\s+max_bytes/);
});
