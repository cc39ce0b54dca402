import t from 'tap';
import { Metrics } from '../../engine/runtime/metrics.js';

/** The Prometheus text a scraper reads (`GET /metrics`): exact lines, since a scraper parses them. */

t.test('counters add up per label set, with HELP and TYPE once per name', async (t) => {
  const m = new Metrics();
  m.inc('sagad_messages_total', 'Messages consumed, by outcome.', { outcome: 'reply' });
  m.inc('sagad_messages_total', 'Messages consumed, by outcome.', { outcome: 'reply' }, 2);
  m.inc('sagad_messages_total', 'Messages consumed, by outcome.', { outcome: 'duplicate' });
  m.inc('sagad_commits_total', 'Commits.');
  m.inc('sagad_commits_total', 'Commits.', {}, 4);
  const lines = m.render([]).split('\n');
  t.same(lines.slice(0, 7), [
    '# HELP sagad_messages_total Messages consumed, by outcome.',
    '# TYPE sagad_messages_total counter',
    'sagad_messages_total{outcome="reply"} 3',
    'sagad_messages_total{outcome="duplicate"} 1',
    '# HELP sagad_commits_total Commits.',
    '# TYPE sagad_commits_total counter',
    'sagad_commits_total 5',
  ]);
});

t.test('label values are escaped: backslash, quote, newline', async (t) => {
  const m = new Metrics();
  m.inc('c', 'h', { a: 'x\\y"z\nw', b: 'plain' });
  t.ok(m.render([]).includes('c{a="x\\\\y\\"z\\nw",b="plain"} 1\n'), m.render([]).split('\n')[2] ?? '');
  const g = m.render([{ name: 'g', help: 'gh', samples: [{ labels: { s: 'q"\\\n' }, value: 2 }] }]);
  t.ok(g.endsWith('# HELP g gh\n# TYPE g gauge\ng{s="q\\"\\\\\\n"} 2\n'), g.split('\n').slice(-2)[0] ?? '');
});

t.test('the timer lag summary: median, 99th percentile, sum and count in seconds, and the largest lag', async (t) => {
  const empty = new Metrics().render([]);
  t.same(empty.split('\n').filter((l) => l.startsWith('sagad_timer_lag')), [
    'sagad_timer_lag_seconds{quantile="0.5"} 0',
    'sagad_timer_lag_seconds{quantile="0.99"} 0',
    'sagad_timer_lag_seconds_sum 0',
    'sagad_timer_lag_seconds_count 0',
    'sagad_timer_lag_max_seconds 0',
  ], 'all zero before any timer fired');
  t.ok(empty.includes('# HELP sagad_timer_lag_seconds How late timers fired after their dueAt (recent 4096).\n# TYPE sagad_timer_lag_seconds summary\n'));
  t.ok(empty.includes('# HELP sagad_timer_lag_max_seconds Largest timer lag seen.\n# TYPE sagad_timer_lag_max_seconds gauge\n'));

  const m = new Metrics();
  // 1..200 ms, given out of order: the quantiles come from the sorted values.
  for (let i = 200; i >= 1; i--) m.timerLag(i);
  t.same(m.render([]).split('\n').filter((l) => l.startsWith('sagad_timer_lag')), [
    'sagad_timer_lag_seconds{quantile="0.5"} 0.101',
    'sagad_timer_lag_seconds{quantile="0.99"} 0.199',
    'sagad_timer_lag_seconds_sum 20.1',
    'sagad_timer_lag_seconds_count 200',
    'sagad_timer_lag_max_seconds 0.2',
  ]);
});

t.test('the quantiles look at the most recent 4096 lags; sum, count and max at all of them', async (t) => {
  const m = new Metrics();
  m.timerLag(1_000_000);
  for (let i = 0; i < 4096; i++) m.timerLag(10);
  const lines = m.render([]).split('\n');
  t.ok(lines.includes('sagad_timer_lag_seconds{quantile="0.99"} 0.01'), 'the old outlier has left the window');
  t.ok(lines.includes('sagad_timer_lag_seconds_count 4097'));
  t.ok(lines.includes('sagad_timer_lag_max_seconds 1000'));
  t.ok(lines.includes(`sagad_timer_lag_seconds_sum ${(1_000_000 + 4096 * 10) / 1000}`));

  const few = new Metrics();
  for (const ms of [5, 1, 3]) few.timerLag(ms);
  const fewLines = few.render([]).split('\n');
  t.ok(fewLines.includes('sagad_timer_lag_seconds{quantile="0.5"} 0.003'), 'the middle of three');
  t.ok(fewLines.includes('sagad_timer_lag_seconds{quantile="0.99"} 0.005'), 'the largest of three');
});

t.test('gauges follow the counters and the summary, one TYPE line each, labels or none', async (t) => {
  const m = new Metrics();
  const text = m.render([
    { name: 'saga_instances', help: 'Instances by state.', samples: [{ labels: { saga: 'order', state: 'running' }, value: 2 }, { labels: { saga: 'order', state: 'failed' }, value: 0 }] },
    { name: 'sagad_outbox_backlog', help: 'Unsent rows.', samples: [{ labels: {}, value: 7 }] },
  ]);
  t.ok(text.endsWith([
    '# HELP saga_instances Instances by state.',
    '# TYPE saga_instances gauge',
    'saga_instances{saga="order",state="running"} 2',
    'saga_instances{saga="order",state="failed"} 0',
    '# HELP sagad_outbox_backlog Unsent rows.',
    '# TYPE sagad_outbox_backlog gauge',
    'sagad_outbox_backlog 7',
    '',
  ].join('\n')), text);
});
