import t from 'tap';
import { loadConfig } from '../../engine/config.js';
import type { LogFn } from '../../engine/log.js';
import { loadTracing, tracingSettings } from '../../engine/tracing/sdk.js';

/**
 * An OTLP endpoint may carry credentials in its user info (`https://tenant:key@collector`):
 * the `tracing on` line shows where spans go without the password.
 */
t.test('the tracing-on line shows the endpoint without its password', async (t) => {
  for (const [endpoint, shown] of [
    ['https://tenant:S3cr3tApiKey@otlp.example.com:4318', 'https://tenant:***@otlp.example.com:4318/v1/traces'],
    ['http://collector:4318', 'http://collector:4318/v1/traces'],
  ] as const) {
    const settings = tracingSettings(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }));
    if (settings === null) throw new Error('tracing is off');
    const lines: { msg: string; fields: Record<string, unknown> }[] = [];
    const log: LogFn = (_level, msg, fields) => { lines.push({ msg, fields: fields ?? {} }); };
    const tracing = await loadTracing(settings, log);
    await tracing.shutdown();
    const on = lines.find((l) => l.msg.startsWith('tracing on'));
    t.equal(on?.fields.endpoint, shown, `${shown} is logged`);
    t.notOk(JSON.stringify(lines).includes('S3cr3tApiKey'), 'no line holds the password');
  }
});
