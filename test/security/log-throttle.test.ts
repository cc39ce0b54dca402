import t from 'tap';
import { createLogger } from '../../engine/log.js';
import { kindOf, throttledLog } from '../../engine/runtime/log-throttle.js';

/**
 * Issue 13, item 3: repeated identical failures are logged once per interval, not once per
 * message (10,000 copies of a bad message were 10,000 warn lines); the next line of a kind
 * says how many were left out.
 */
t.test('one line per kind per interval, then the count of those left out', async (t) => {
  const lines: Record<string, unknown>[] = [];
  let now = 0;
  const once = throttledLog(createLogger('debug', (l) => { lines.push(JSON.parse(l) as Record<string, unknown>); }), 10_000, () => now);
  for (let i = 0; i < 10_000; i++) once('warn', 'message dead-lettered', kindOf(`s not a JSON envelope: Unexpected token 'x', "x${i}..." is not valid JSON at ${i}`), { n: i });
  t.equal(lines.length, 1, '10,000 identical failures in one interval: one line');
  once('warn', 'message dead-lettered', 'another kind', { n: -1 });
  t.equal(lines.length, 2, 'another kind has its own line');
  now = 10_000;
  once('warn', 'message dead-lettered', kindOf('s not a JSON envelope: Unexpected token \'y\', "y..." is not valid JSON at 7'), { n: 10_000 });
  t.match(lines.at(-1), { msg: 'message dead-lettered', n: 10_000, suppressed: 9_999 }, 'the next interval says how many were left out');
  now = 20_001;
  once('warn', 'message dead-lettered', 'another kind', { n: -2 });
  t.notOk('suppressed' in (lines.at(-1) ?? {}), 'nothing was left out of that kind');
});

t.test('kindOf blanks the particulars of a reason', async (t) => {
  t.equal(kindOf('failed on its last delivery (5): timeout after 30000 ms'), kindOf('failed on its last delivery (3): timeout after 100 ms'));
  t.not(kindOf('not a JSON envelope'), kindOf('invalid envelope: eventId is missing'));
  t.ok(kindOf('x'.repeat(5000)).length <= 200);
});
