/** In-process counters and a lag summary, rendered as Prometheus text with the store's gauges. */
export class Metrics {
  private readonly counters = new Map<string, Map<string, number>>();
  private readonly help = new Map<string, string>();
  private lagCount = 0;
  private lagSum = 0;
  private lagMax = 0;
  private readonly lagRecent: number[] = [];

  /** Adds `by` to a counter with the given label values. */
  inc(name: string, help: string, labels: Record<string, string> = {}, by = 1): void {
    this.help.set(name, help);
    const series = this.counters.get(name) ?? new Map<string, number>();
    const key = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`).join(',');
    series.set(key, (series.get(key) ?? 0) + by);
    this.counters.set(name, series);
  }

  /** Records how late a timer fired (ms past its dueAt). */
  timerLag(ms: number): void {
    this.lagCount++;
    this.lagSum += ms;
    this.lagMax = Math.max(this.lagMax, ms);
    this.lagRecent.push(ms);
    // Stryker disable next-line EqualityOperator: at exactly 4096 the splice would remove nothing
    if (this.lagRecent.length > 4096) this.lagRecent.splice(0, this.lagRecent.length - 4096);
  }

  /** Prometheus text: counters, the timer lag summary, and the gauges passed in. */
  render(gauges: readonly { name: string; help: string; samples: readonly { labels: Record<string, string>; value: number }[] }[]): string {
    const out: string[] = [];
    for (const [name, series] of this.counters) {
      out.push(`# HELP ${name} ${this.help.get(name) ?? name}`, `# TYPE ${name} counter`);
      for (const [labels, v] of series) out.push(`${name}${labels === '' ? '' : `{${labels}}`} ${v}`);
    }
    const sorted = [...this.lagRecent].sort((a, b) => a - b);
    // Stryker disable next-line ConditionalExpression,ArithmeticOperator: an empty list reads undefined, which falls back to 0; floor(p * n) < n for p < 1, so the bound never binds
    const q = (p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) / 1000;
    out.push('# HELP sagad_timer_lag_seconds How late timers fired after their dueAt (recent 4096).', '# TYPE sagad_timer_lag_seconds summary',
      `sagad_timer_lag_seconds{quantile="0.5"} ${q(0.5)}`, `sagad_timer_lag_seconds{quantile="0.99"} ${q(0.99)}`,
      `sagad_timer_lag_seconds_sum ${this.lagSum / 1000}`, `sagad_timer_lag_seconds_count ${this.lagCount}`,
      '# HELP sagad_timer_lag_max_seconds Largest timer lag seen.', '# TYPE sagad_timer_lag_max_seconds gauge', `sagad_timer_lag_max_seconds ${this.lagMax / 1000}`);
    for (const g of gauges) {
      out.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
      for (const s of g.samples) {
        const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escape(v)}"`).join(',');
        out.push(`${g.name}${labels === '' ? '' : `{${labels}}`} ${s.value}`);
      }
    }
    return `${out.join('\n')}\n`;
  }
}

function escape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
