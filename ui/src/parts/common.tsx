/** Small pieces every page uses: state badges, times, JSON blocks, messages. */
import type { ComponentChildren } from 'preact';
import { clock, duration, relative } from '../../../cli/render/time.js';

/** A state as a coloured badge; the colour only repeats the word, so it reads without colour too. */
export function StateBadge({ state }: { state: string }) {
  return <span class={`badge st-${state}`}>{state.replace(/_/g, ' ')}</span>;
}

/** A time as UTC with its distance from now in the tooltip-free text (screen readers read it too). */
export function Time({ iso, now }: { iso: string | null; now: number }) {
  if (iso === null) return <span class="muted">–</span>;
  return <time dateTime={iso} title={iso}>{clock(iso)} <span class="muted">({relative(iso, now)})</span></time>;
}

/** A duration in ms, short. */
export const dur = (ms: number): string => duration(ms);

/** A JSON value, pretty, in a scrollable block. */
export function Json({ value, label }: { value: unknown; label: string }) {
  return <pre class="json" tabIndex={0} aria-label={label}>{JSON.stringify(value, null, 2)}</pre>;
}

/** A collapsible section with a heading the keyboard reaches. */
export function Fold({ title, open = false, children }: { title: string; open?: boolean; children: ComponentChildren }) {
  return (
    <details class="fold" open={open}>
      <summary>{title}</summary>
      {children}
    </details>
  );
}

/** An error or empty-state message. */
export function Note({ kind = 'info', children }: { kind?: 'info' | 'error'; children: ComponentChildren }) {
  return <p class={`note ${kind}`} role={kind === 'error' ? 'alert' : 'status'}>{children}</p>;
}

/** The first characters of a long hash, the whole in the tooltip. */
export function Hash({ hash }: { hash: string }) {
  return <code title={hash}>{hash.slice(0, 12)}</code>;
}
