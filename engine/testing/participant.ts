/**
 * The simulated participants: the reply each scripted answer becomes, and the event a wait
 * step receives, built so that the step's `match` holds where that can be worked out.
 */
import type jsonata from 'jsonata';
import type { CommandStep, CompensationSpec, ExprScope, IncomingMessage, WaitStep } from '../core/index.js';
import { astOf } from './references.js';
import type { ReplyKind } from './script.js';

/** The reply type a scripted answer sends, or null when the step lists none (the answer is then silence). */
export function replyType(kind: ReplyKind, reply: CommandStep['reply'] | CompensationSpec['reply'], undo: boolean): string | null {
  switch (kind) {
    case 'ok':
    case 'late':
      return reply.success[0] ?? null;
    // A compensation has no terminal failure: any of its non-success replies is retried.
    case 'fail':
      return reply.failure[0] ?? (undo ? reply.retryable[0] ?? null : null);
    case 'retryable':
      return reply.retryable[0] ?? (undo ? reply.failure[0] ?? null : null);
    case 'timeout':
      return null;
  }
}

/** Pure: a default delay that lands well inside the attempt's timeout. */
export function defaultDelay(timeout: number | null): number {
  return timeout === null ? 100 : Math.max(1, Math.min(100, Math.floor(timeout / 2)));
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function rootPath(n: jsonata.ExprNode | undefined): string[] | null {
  if (n === undefined) return null;
  if (n.type === 'name' && typeof n.value === 'string') return [n.value];
  if (n.type !== 'path' || n.steps === undefined || n.steps.length === 0) return null;
  const names = n.steps.map((s) => (s.type === 'name' && typeof s.value === 'string' ? s.value : null));
  return names.every((x): x is string => x !== null) ? names : null;
}

function valueOf(n: jsonata.ExprNode | undefined, scope: ExprScope): { ok: boolean; value?: unknown } {
  if (n === undefined) return { ok: false };
  if (n.type === 'string' || n.type === 'number' || n.type === 'value') return { ok: true, value: n.value };
  const steps = n.type === 'path' ? n.steps ?? [] : n.type === 'variable' ? [n] : [];
  const first = steps[0];
  if (first?.type !== 'variable' || !['input', 'steps', 'saga', 'event'].includes(String(first.value))) return { ok: false };
  let v: unknown = scope[first.value as keyof ExprScope];
  for (const s of steps.slice(1)) {
    if (s.type !== 'name' || !isRecord(v)) return { ok: false };
    v = v[String(s.value)];
  }
  return { ok: v !== undefined, value: v };
}

function setIn(target: Record<string, unknown>, names: readonly string[], value: unknown): void {
  let node = target;
  for (const [i, name] of names.entries()) {
    if (i === names.length - 1) node[name] = value;
    else {
      if (!isRecord(node[name])) node[name] = {};
      node = node[name] as Record<string, unknown>;
    }
  }
}

/**
 * Pure: the event a wait step receives: its sample payload, then every `a.b = <value>`
 * comparison of its `match` made true (when the value is a literal or a `$input`, `$steps`,
 * `$saga` or `$event` path). A match this cannot satisfy leaves the step waiting until its timeout.
 */
export function waitEvent(l: WaitStep, scope: ExprScope, payload: unknown, eventId: string): IncomingMessage {
  const message: Record<string, unknown> = {
    eventId, eventType: l.type, correlationId: scope.saga.correlationId, causationId: eventId,
    aggregateId: scope.saga.key ?? scope.saga.id, version: 1, payload: structuredClone(payload),
  };
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!isRecord(node)) return;
    const n = node as unknown as jsonata.ExprNode;
    if (n.type === 'binary' && n.value === '=') {
      for (const [a, b] of [[n.lhs, n.rhs], [n.rhs, n.lhs]] as const) {
        const path = rootPath(a);
        const v = valueOf(b, scope);
        if (path !== null && v.ok) {
          setIn(message, path, v.value);
          break;
        }
      }
    }
    Object.values(node).forEach(visit);
  };
  if (l.match !== null) visit(astOf(l.match));
  return message as unknown as IncomingMessage;
}
