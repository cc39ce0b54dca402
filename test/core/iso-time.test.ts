import fc from 'fast-check';
import t from 'tap';
import { formatIsoTime, parseIsoTime } from '../../engine/core/iso-time.js';

// The core may not use Date; these pin its own ISO arithmetic to what Date does.
t.test('formatting any time from year 0 to 9999 agrees with Date', (t) => {
  fc.assert(fc.property(fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }), (ms) => formatIsoTime(ms) === new Date(ms).toISOString()));
  t.equal(formatIsoTime(0), '1970-01-01T00:00:00.000Z');
  t.end();
});

t.test('parsing what Date writes gives the time back', (t) => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => parseIsoTime(new Date(ms).toISOString()) === ms));
  t.end();
});

t.test('offsets, dates alone and bad values', (t) => {
  t.equal(parseIsoTime('2026-11-27T15:00:00+02:00'), Date.parse('2026-11-27T13:00:00Z'));
  t.equal(parseIsoTime('2026-11-27T15:00:00-0130'), Date.parse('2026-11-27T16:30:00Z'));
  t.equal(parseIsoTime('2026-11-27'), Date.parse('2026-11-27T00:00:00Z'));
  t.equal(parseIsoTime('2024-02-29T00:00:00Z'), Date.parse('2024-02-29T00:00:00Z'));
  for (const bad of ['next tuesday', '2026-02-29T00:00:00Z', '2026-13-01', '2026-11-27T24:00:00Z', '', '2026-11-27T10:61Z']) {
    t.ok(Number.isNaN(parseIsoTime(bad)), `${JSON.stringify(bad)} is not a time`);
  }
  t.end();
});
