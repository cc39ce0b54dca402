/** The timeline drawn: a row per step and per compensation, attempts as bars on one axis from the start. */
import { dur } from './common.js';
import { ticks, type Span, type Timeline } from '../timeline.js';

const pct = (ms: number, length: number): string => `${Math.min(100, Math.max(0, (ms / length) * 100)).toFixed(3)}%`;

const endText: Readonly<Record<Span['end'], string>> = {
  succeeded: 'succeeded', failed: 'failed', timed_out: 'timed out', retry: 'failed, retried', given_up: 'given up',
  compensated: 'compensated', compensation_failed: 'compensation failed', open: 'in flight',
};

/** A timeout is a retry or a failure whose note says so; it gets its own colour. */
function spanClass(s: Span): string {
  const timedOut = s.end === 'timed_out' || (s.end === 'retry' && s.note !== null && /tim(ed )?out/i.test(s.note));
  return `tl-span end-${s.end}${timedOut ? ' timeout' : ''}`;
}

function spanLabel(s: Span, undo: boolean): string {
  const what = `${undo ? 'compensation ' : ''}attempt ${s.attempt}`;
  return `${what}: +${dur(s.from)} to +${dur(s.to)} (${dur(s.to - s.from)}), ${endText[s.end]}${s.note === null ? '' : `: ${s.note}`}`;
}

/** The timeline of an instance; every bar has its text for screen readers and as a tooltip. */
export function TimelineView({ tl }: { tl: Timeline }) {
  const axis = ticks(tl.length);
  return (
    <div class="timeline">
      <div class="tl-row tl-axis" aria-hidden="true">
        <span class="tl-label" />
        <span class="tl-track">{axis.map((t) => <span class="tl-tick" style={{ left: pct(t, tl.length) }}>+{dur(t)}</span>)}</span>
      </div>
      <ol class="tl-lanes" aria-label="Steps and compensations over time">
        {tl.lanes.map((lane) => (
          <li class={`tl-row${lane.undo ? ' undo' : ''}`} data-lane={lane.id}>
            <span class="tl-label">{lane.undo ? `↩ undo ${lane.step}` : lane.step}</span>
            <span class="tl-track">
              {tl.marks.map((m) => <span class="tl-guide" style={{ left: pct(m.at, tl.length) }} aria-hidden="true" />)}
              {lane.spans.map((s) => (
                <span class={spanClass(s)} data-from={s.from} data-end={s.end} title={spanLabel(s, lane.undo)}
                  style={{ left: pct(s.from, tl.length), width: `max(3px, ${pct(s.to - s.from, tl.length)})` }}>
                  <span class="sr">{spanLabel(s, lane.undo)}</span>
                </span>
              ))}
              {lane.marks.map((m) => (
                <span class="tl-mark" style={{ left: pct(m.at, tl.length) }} title={`+${dur(m.at)} ${m.label}`}>
                  <span class="sr">+{dur(m.at)} {m.label}</span>
                </span>
              ))}
            </span>
          </li>
        ))}
      </ol>
      {tl.marks.length === 0 ? null : (
        <ul class="tl-events" aria-label="Saga events">
          {tl.marks.map((m) => <li><span class="mono">+{dur(m.at)}</span> {m.label}</li>)}
        </ul>
      )}
      <p class="legend" aria-hidden="true">
        <span class="tl-key end-succeeded" /> succeeded <span class="tl-key end-retry" /> failed, retried
        <span class="tl-key timeout" /> timed out <span class="tl-key end-failed" /> failed
        <span class="tl-key end-compensated" /> compensated <span class="tl-key end-open" /> in flight
      </p>
    </div>
  );
}
