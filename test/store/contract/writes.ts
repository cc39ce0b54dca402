import {
  decide, isRejection, start, type Decision, type InstanceState, type SagaInput, type TimerRef,
} from '../../../engine/core/index.js';
import type { OutboxMessage } from '../../../engine/store/outbox.js';
import type { InputWrite, InstanceChange, StorePort, WriteOutcome } from '../../../engine/store/port.js';
import { saga, type TestEnv } from '../fixtures/saga.js';

export { reply, saga, TestEnv } from '../fixtures/saga.js';

/** An adapter under test: `fresh()` makes an empty place (a file, a database) to open it on. */
export interface PortFactory {
  readonly name: string;
  /** Whether claims hold for `claimMs` (replicas); a single-process adapter may hand rows out again. */
  readonly leases: boolean;
  /** Whether marking a row sent deletes it (SQLite since migration 9, PostgreSQL since schema 7), leaving `pruneSent` nothing; else sent rows are kept until pruned. */
  readonly deletesSent?: boolean;
  fresh(): Promise<Place>;
}

export interface Place {
  open(opts?: { readonly?: boolean; snapshotEvery?: number }): Promise<StorePort>;
}

/** The change a core decision makes, as the runtime will hand it to `commit`. */
export function changeOf(expectedVersion: number, d: Decision, waits: InstanceChange['waits'] = { put: [], remove: [] }): InstanceChange {
  const outbox: OutboxMessage[] = [];
  const put: { timerId: string; dueAt: number; data: TimerRef }[] = [];
  const cancel: string[] = [];
  const commands: InstanceChange['commands'][number][] = [];
  for (const e of d.effects) {
    if (e.type === 'SendCommand') {
      const c = e.command;
      commands.push({ commandId: c.eventId, step: c.headers['Saga-Step'], kind: c.headers['Idempotency-Key'].endsWith('/undo') ? 'undo' : 'do' });
      outbox.push({ messageId: c.eventId, subject: c.subject, headers: { ...c.headers, 'Nats-Msg-Id': c.eventId }, data: Buffer.from(JSON.stringify(c)) });
    } else if (e.type === 'ScheduleTimer') {
      put.push({ timerId: e.timerId, dueAt: e.dueAt, data: e.timer });
    } else if (e.type === 'CancelTimer') {
      cancel.push(e.timerId);
    }
  }
  return { expectedVersion, state: d.state, events: d.events, outbox, timers: { put, cancel }, commands, waits };
}

/** The decision that starts instance `id` through the real core. */
export function startDecision(env: TestEnv, id: string, opts: { key?: string | null; correlationId?: string } = {}): Decision {
  return start(saga, { id, input: { n: id }, key: opts.key ?? null, correlationId: opts.correlationId ?? `c-${id}`, event: null, causationId: `start-${id}` }, env);
}

/** The decision of `input` on `state` through the real core. */
export function decision(env: TestEnv, state: InstanceState, input: SagaInput): Decision {
  const d = decide(saga, state, input, env);
  if (isRejection(d)) throw new Error(d.rejected.message);
  return d;
}

/** One input's write of one decision. */
export function writeOf(messageId: string | null, change: InstanceChange, firedTimer: InputWrite['firedTimer'] = null): InputWrite {
  return { messageId, firedTimer, changes: [change] };
}

/** Commits and insists on `committed`, returning the outbox rows. */
export async function committed(port: StorePort, w: InputWrite): Promise<Extract<WriteOutcome, { status: 'committed' }>> {
  const o = await port.commit(w);
  if (o.status !== 'committed') throw new Error(`expected committed, got ${JSON.stringify(o)}`);
  return o;
}

/** Starts instance `id` and returns its state. */
export async function started(port: StorePort, env: TestEnv, id: string, opts: { key?: string | null; correlationId?: string } = {}): Promise<InstanceState> {
  const d = startDecision(env, id, opts);
  await committed(port, writeOf(`start-${id}`, changeOf(0, d)));
  return d.state;
}
