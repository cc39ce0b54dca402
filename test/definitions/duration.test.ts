import t from 'tap';
import { parseDuration } from '../../engine/definitions/index.js';
import { DURATION_PATTERN } from '../../engine/definitions/duration.js';
import { definitionsSchema } from '../../engine/definitions/index.js';

t.test('parses durations to milliseconds', async (t) => {
  const table: [string, number | null][] = [
    ['500ms', 500], ['30s', 30_000], ['10m', 600_000], ['1h', 3_600_000], ['1d', 86_400_000],
    ['1m30s', 90_000], ['1h30m', 5_400_000], ['2d3h4m5s6ms', 183_845_006], ['1.5s', 1500], ['0s', 0],
    ['', null], ['30', null], ['5 seconds', null], ['s', null], ['1m1h', null], ['30S', null], ['-1s', null],
    [' 1s', null], ['1s ', null], ['1w', null], ['1ms1s', null],
  ];
  for (const [text, ms] of table) t.equal(parseDuration(text), ms, JSON.stringify(text));
});

t.test('the JSON Schema accepts exactly the durations parseDuration accepts', async (t) => {
  t.equal(definitionsSchema.definitions.duration.pattern, DURATION_PATTERN);
});
