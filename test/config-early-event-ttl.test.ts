import t from 'tap';
import { earlyEventTtlMs, loadConfig } from '../engine/config.js';

t.test('SAGA_EARLY_EVENT_TTL is a duration above zero, an hour by default', async (t) => {
  t.equal(earlyEventTtlMs(loadConfig({})), 3_600_000);
  t.equal(earlyEventTtlMs(loadConfig({ SAGA_EARLY_EVENT_TTL: '1m30s' })), 90_000);
  t.throws(() => loadConfig({ SAGA_EARLY_EVENT_TTL: 'soon' }), { code: 'SAGA_ERR_CONFIG', message: /SAGA_EARLY_EVENT_TTL="soon": must be a duration above zero/ });
  t.throws(() => loadConfig({ SAGA_EARLY_EVENT_TTL: '0s' }), { code: 'SAGA_ERR_CONFIG', message: /SAGA_EARLY_EVENT_TTL=0s must be longer than zero/ });
});
