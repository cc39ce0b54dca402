import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parse } from 'yaml';
import { startNatsServer } from '../helpers/nats-server.js';
import { startSagad } from '../helpers/sagad.js';
import { parseExposition, type Scrape } from '../helpers/exposition.js';

/**
 * The Grafana dashboard and the Prometheus alert rules in deploy/ read only metrics that sagad
 * exports: every PromQL expression in them is taken apart into the metric names it selects,
 * and each must be a family (or a histogram's or summary's `_bucket`, `_sum`, `_count`) in the
 * scrape of a real sagad, started here on a real nats-server.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const rules = parse(readFileSync(join(root, 'deploy/prometheus/sagad-alerts.yaml'), 'utf8')) as { groups: { name: string; rules: { alert: string; expr: string; for?: string }[] }[] };
const dashboard = JSON.parse(readFileSync(join(root, 'deploy/grafana/sagad.json'), 'utf8')) as unknown;

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression selects: what is left once strings, labels, ranges, groupings, numbers and function calls are taken out. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (name === undefined || call !== undefined || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

/** True when `name` is in the scrape: a family, or a histogram's or summary's series. */
function exported(s: Scrape, name: string): boolean {
  if (s.types.has(name)) return true;
  const suffix = /_(bucket|sum|count)$/.exec(name);
  if (suffix === null) return false;
  const type = s.types.get(name.slice(0, -suffix[0].length));
  return type === 'histogram' || (type === 'summary' && suffix[1] !== 'bucket');
}

/** Every `expr` string in a Grafana dashboard, however deep its panels nest. */
function dashboardExprs(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(dashboardExprs);
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([k, v]) => (k === 'expr' && typeof v === 'string' ? [v] : dashboardExprs(v)));
}

const dir = mkdtempSync(join(tmpdir(), 'sagad-observability-'));
const nats = await startNatsServer();
const sagad = await startSagad({ natsUrl: nats.url, dbFile: join(dir, 'sagad.db') });
t.teardown(async () => {
  await sagad.stop();
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
});
const scrape = parseExposition(await (await fetch(`${sagad.url}/metrics`)).text());

t.test('the name extraction finds what an expression selects and nothing else', async (t) => {
  t.same(metricNames('histogram_quantile(0.99, sum by (le, kind) (rate(sagad_timer_fire_lag_seconds_bucket{kind!="x"}[5m]))) > 1'), ['sagad_timer_fire_lag_seconds_bucket']);
  t.same(metricNames('sum(rate(a_sum[$__rate_interval])) / sum(rate(a_count[1m])) and on (job) up == 0'), ['a_sum', 'a_count', 'up']);
  t.same(metricNames('max by (saga) (sagad_instances{state="failed"}) > 0'), ['sagad_instances']);
  t.notOk(exported(scrape, 'sagad_no_such_metric'), 'a name sagad does not export is caught');
  t.notOk(exported(scrape, 'sagad_instances_bucket'), 'a gauge has no buckets');
  t.ok(exported(scrape, 'sagad_timer_lag_seconds_count') && !exported(scrape, 'sagad_timer_lag_seconds_bucket'), 'a summary has a count, no buckets');
});

t.test('every alert rule selects only exported metrics, and the issue\'s alerts are all there', async (t) => {
  const all = rules.groups.flatMap((g) => g.rules);
  t.ok(all.length >= 5, `${all.length} rules`);
  for (const r of all) {
    const names = metricNames(r.expr);
    t.ok(names.length > 0, `${r.alert} selects something`);
    t.same(names.filter((n) => !exported(scrape, n)), [], `${r.alert}: ${r.expr}`);
  }
  const selected = new Set(all.flatMap((r) => metricNames(r.expr)));
  for (const n of ['sagad_consumer_lagging', 'sagad_dead_letters_total', 'sagad_outbox_oldest_age_seconds', 'sagad_timer_fire_lag_seconds_bucket', 'sagad_instances']) {
    t.ok(selected.has(n), `an alert reads ${n}`);
  }
  t.ok(all.some((r) => r.expr.includes('state="failed"')), 'an alert on instances stuck failed');
});

t.test('every dashboard panel selects only exported metrics', async (t) => {
  const exprs = dashboardExprs(dashboard);
  t.ok(exprs.length >= 20, `${exprs.length} queries`);
  for (const e of exprs) t.same(metricNames(e).filter((n) => !exported(scrape, n)), [], e);
  const selected = new Set(exprs.flatMap(metricNames));
  for (const n of ['sagad_step_duration_seconds_bucket', 'sagad_saga_duration_seconds_bucket', 'sagad_consumer_pending', 'sagad_consumer_ack_pending',
    'sagad_commit_batch_size_sum', 'sagad_commit_duration_seconds_bucket', 'sagad_http_request_duration_seconds_bucket', 'process_cpu_seconds_total']) {
    t.ok(selected.has(n), `a panel reads ${n}`);
  }
});
