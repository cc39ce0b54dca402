import { Summary } from 'prom-client';

/** How many of the latest observations the quantiles look at. */
export const RECENT_WINDOW = 4096;

/**
 * A summary whose quantiles are exact over the latest 4096 observations, with sum and count over
 * all of them. prom-client's own summary estimates quantiles over a time window; the timer
 * lag figures the bench and operators have read since before prom-client (`quantile="0.99"` of
 * the recent timers) keep their meaning this way. Values are recorded in milliseconds and
 * exposed in seconds.
 */
export class RecentSummary extends Summary {
  private readonly recent: number[] = [];
  private count = 0;
  private sumMs = 0;
  private readonly cfg: { readonly name: string; readonly help: string; readonly percentiles: readonly number[] };

  constructor(cfg: { name: string; help: string; percentiles: readonly number[]; registers: ConstructorParameters<typeof Summary>[0]['registers'] }) {
    super({ name: cfg.name, help: cfg.help, percentiles: [...cfg.percentiles], registers: cfg.registers });
    this.cfg = cfg;
  }

  /** Records one value in milliseconds: cheap (an array push, a splice only past twice the window). */
  record(ms: number): void {
    this.count++;
    this.sumMs += ms;
    this.recent.push(ms);
    // Trimmed in chunks: one splice per 4096 observations instead of a shift each.
    if (this.recent.length >= 2 * RECENT_WINDOW) this.recent.splice(0, this.recent.length - RECENT_WINDOW);
  }

  /** What the registry renders: the quantiles of the window, then sum and count in seconds. */
  override get(): ReturnType<Summary['get']> {
    const sorted = this.recent.slice(-RECENT_WINDOW).sort((a, b) => a - b);
    const q = (p: number) => (sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) / 1000);
    const { name, help, percentiles } = this.cfg;
    const metric = {
      name, help, type: 'summary', aggregator: 'sum',
      values: [
        ...percentiles.map((p) => ({ labels: { quantile: p }, value: q(p), metricName: name })),
        { metricName: `${name}_sum`, labels: {}, value: this.sumMs / 1000 },
        { metricName: `${name}_count`, labels: {}, value: this.count },
      ],
    };
    return Promise.resolve(metric as unknown as Awaited<ReturnType<Summary['get']>>);
  }
}
