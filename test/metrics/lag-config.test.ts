import t from 'tap';
import { configHelp, loadConfig } from '../../engine/config.js';

/** SAGA_LAG_MAX and SAGA_LAG_MAX_AGE as sagad reads them from the environment. */

t.test('unset: no thresholds', async (t) => {
  const c = loadConfig({});
  t.equal(c.lagMax, undefined);
  t.equal(c.lagMaxAgeMs, undefined);
});

t.test('a number of messages and a duration in milliseconds', async (t) => {
  const c = loadConfig({ SAGA_LAG_MAX: '1000', SAGA_LAG_MAX_AGE: '1m30s' });
  t.equal(c.lagMax, 1000);
  t.equal(c.lagMaxAgeMs, 90_000);
  t.equal(loadConfig({ SAGA_LAG_MAX_AGE: '500ms' }).lagMaxAgeMs, 500);
});

t.test('bad values are reported with the others, each with what is allowed', async (t) => {
  t.throws(() => loadConfig({ SAGA_LAG_MAX: '0', SAGA_LAG_MAX_AGE: '30 seconds' }), {
    code: 'SAGA_ERR_CONFIG',
    message: /2 problems[\s\S]*SAGA_LAG_MAX="0": must be an integer from 1[\s\S]*SAGA_LAG_MAX_AGE="30 seconds": must be a duration such as 30s/,
  });
});

t.test('--help lists both', async (t) => {
  t.match(configHelp(), /^ {2}SAGA_LAG_MAX {2,}.*sagad stays ready.*\(default: unset\)$/m);
  t.match(configHelp(), /^ {2}SAGA_LAG_MAX_AGE .*\(default: unset\)$/m);
});
