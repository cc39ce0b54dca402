/**
 * A run's trace: what the simulated world did (commands sent, replies, timers, events, cancels)
 * interleaved with the journal events the core emitted, in the order they happened. The
 * guarantee checker reads only this and the definition, so a trace can also be written by hand.
 */
import type { SagaEvent } from '../core/index.js';

/** How a participant answered a command. */
export type ReplyClass = 'success' | 'failure' | 'retryable';

/** Which command: the step, do or undo, the attempt, and its id. */
export interface CommandRef {
  readonly step: string;
  readonly undo: boolean;
  readonly attempt: number;
  readonly commandId: string;
}

/** One happening; `at` is simulated ms from the start, `taken` whether the core acted on the input. */
export type TraceEntry =
  | ({ readonly at: number; readonly kind: 'send' } & CommandRef)
  | ({ readonly at: number; readonly kind: 'reply'; readonly reply: ReplyClass; readonly taken: boolean } & CommandRef)
  | { readonly at: number; readonly kind: 'timer'; readonly timer: string; readonly taken: boolean }
  | { readonly at: number; readonly kind: 'event'; readonly step: string; readonly taken: boolean }
  | { readonly at: number; readonly kind: 'cancel'; readonly accepted: boolean }
  | { readonly at: number; readonly kind: 'journal'; readonly event: SagaEvent };

/** Pure: one line per trace entry, for a violation's report. */
export function traceLines(trace: readonly TraceEntry[]): string[] {
  return trace.map((e) => {
    const at = `@${e.at}ms`.padStart(9);
    switch (e.kind) {
      case 'send': return `${at} send    ${e.undo ? 'undo' : 'do'} ${e.step}#${e.attempt}`;
      case 'reply': return `${at} reply   ${e.reply} to ${e.undo ? 'undo' : 'do'} ${e.step}#${e.attempt}${e.taken ? '' : ' (ignored)'}`;
      case 'timer': return `${at} timer   ${e.timer}${e.taken ? '' : ' (stale)'}`;
      case 'event': return `${at} event   for ${e.step}${e.taken ? '' : ' (ignored)'}`;
      case 'cancel': return `${at} cancel  ${e.accepted ? 'accepted' : 'refused'}`;
      case 'journal': return `${at} journal ${e.event.type}${'step' in e.event ? ` ${e.event.step}` : ''}`;
    }
  });
}
