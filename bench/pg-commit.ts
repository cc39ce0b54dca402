import { loadavg } from 'node:os';
import { decide, isRejection, start, type CompiledSaga, type Decision, type Env, type InstanceState, type RetryPolicy } from '../engine/core/index.js';
import type { OutboxMessage } from '../engine/store/outbox.js';
import type { InstanceChange, StorePort } from '../engine/store/port.js';
import { openPostgresStore } from '../engine/store/postgres/index.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { pidWith, treeCpuSeconds } from './proc.js';

/**
 * The PostgreSQL store's step path alone, without NATS: `CONCURRENCY` writers (default 100)
 * each run 3-step sagas through the real core, one input at a time: a start, then per step a
 * reply found by `replyTarget` and committed as the write the runtime makes (two journal
 * rows, the instance row, an outbox row, a timer moved, a command indexed, the inbox id).
 * `IN_FLIGHT` sets the commit batches in flight (default 2). Reports writes/s and steps/s over `SECONDS` (default 10), and CPU ms per step of this process and
 * (its own server only) of PostgreSQL. Uses `SAGA_BENCH_PG` (a URL of an
 * empty database) or starts its own PostgreSQL with fsync and synchronous_commit on.
 *
 *   tsc -p bench/tsconfig.json && node dist/bench/pg-commit.js
 */
const concurrency = Number(process.env.CONCURRENCY ?? 100);
const seconds = Number(process.env.SECONDS ?? 10);

const retry: RetryPolicy = { maxAttempts: 3, initialInterval: 100, backoffRate: 2, maxInterval: 1000, jitter: 'none' };
const step = (name: string): CompiledSaga['stages'][number] => ({
  kind: 'command', name, when: null, afterPivot: false, pivot: false, timeout: 30_000, retry,
  command: { subject: `${name}.commands`, type: `Do-${name}`, version: 1, payload: { kind: 'literal', value: { step: name, sku: 'ABC-123', qty: 2 } } },
  reply: { subject: `${name}.events`, success: ['Done'], failure: ['Nope'], retryable: [] },
  compensate: null,
});
const saga: CompiledSaga = {
  name: 'order', description: 'bench', hash: 'bench-hash', source: '{}', start: { on: null, key: null }, timeout: 600_000,
  stages: [step('reserve'), step('charge'), step('ship')], schemas: {},
};

let ids = 0;
const env: Env = { get now() { return Date.now(); }, newId: () => `m-${process.pid}-${++ids}`, random: () => 0.5 };

function changeOf(expectedVersion: number, d: Decision): InstanceChange {
  const outbox: OutboxMessage[] = [];
  const put: InstanceChange['timers']['put'][number][] = [];
  const cancel: string[] = [];
  const commands: InstanceChange['commands'][number][] = [];
  for (const e of d.effects) {
    if (e.type === 'SendCommand') {
      const c = e.command;
      commands.push({ commandId: c.eventId, step: c.headers['Saga-Step'], kind: 'do' });
      outbox.push({ messageId: c.eventId, subject: c.subject, headers: { ...c.headers, 'Nats-Msg-Id': c.eventId }, data: Buffer.from(JSON.stringify(c)) });
    } else if (e.type === 'ScheduleTimer') put.push({ timerId: e.timerId, dueAt: e.dueAt, data: e.timer });
    else if (e.type === 'CancelTimer') cancel.push(e.timerId);
  }
  return { expectedVersion, state: d.state, events: d.events, outbox, timers: { put, cancel }, commands, waits: { put: [], remove: [] } };
}

async function writer(port: StorePort, until: number, counts: { writes: number; steps: number }): Promise<void> {
  while (Date.now() < until) {
    const d = start(saga, { id: env.newId(), input: { order: 42 }, key: null, correlationId: env.newId(), event: null, causationId: env.newId() }, env);
    let o = await port.commit({ messageId: env.newId(), firedTimer: null, changes: [changeOf(0, d)] });
    if (o.status !== 'committed') throw new Error(`start: ${o.status}`);
    counts.writes += 1;
    let state: InstanceState = d.state;
    let command = o.outbox[0]?.messageId;
    while (state.status === 'running' && command !== undefined) {
      const target = await port.replyTarget(command);
      if (target === undefined) throw new Error(`no reply target for ${command}`);
      const message = { eventId: env.newId(), eventType: 'Done', correlationId: state.correlationId, causationId: command, aggregateId: 'x', version: 1, payload: { ok: true } };
      const next = decide(saga, target.state, { type: 'ReplyReceived', message }, env);
      if (isRejection(next)) throw new Error(next.rejected.message);
      o = await port.commit({ messageId: message.eventId, firedTimer: null, changes: [changeOf(target.state.version, next)] });
      if (o.status !== 'committed') throw new Error(`step: ${o.status}`);
      counts.writes += 1;
      counts.steps += 1;
      state = next.state;
      command = o.outbox[0]?.messageId;
    }
  }
}

const own = process.env.SAGA_BENCH_PG === undefined ? await startPostgres() : null;
const url = process.env.SAGA_BENCH_PG ?? (await own?.createDatabase('bench')) ?? '';
const serverPid = own === null ? undefined : pidWith(`\0-p\0${own.port}\0`);
const serverCpu = () => (serverPid === undefined ? 0 : treeCpuSeconds(serverPid));
const port = await openPostgresStore(url, { poolSize: 10, commitsInFlight: Number(process.env.IN_FLIGHT ?? 2) });
try {
  const counts = { writes: 0, steps: 0 };
  const warm = { writes: 0, steps: 0 };
  await Promise.all(Array.from({ length: concurrency }, () => writer(port, Date.now() + 2000, warm)));
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const db0 = serverCpu();
  await Promise.all(Array.from({ length: concurrency }, () => writer(port, t0 + seconds * 1000, counts)));
  const s = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const dbCpu = serverCpu() - db0;
  console.log(JSON.stringify({
    concurrency, seconds: Math.round(s * 10) / 10, writesPerSec: Math.round(counts.writes / s), stepsPerSec: Math.round(counts.steps / s),
    nodeCpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / s) * 100),
    nodeCpuMsPerStep: Math.round(((cpu.user + cpu.system) / 1e3 / Math.max(1, counts.steps)) * 1000) / 1000,
    ...(serverPid === undefined ? {} : { pgCpuMsPerStep: Math.round(((dbCpu * 1000) / Math.max(1, counts.steps)) * 1000) / 1000 }),
    load: loadavg()[0],
  }));
} finally {
  await port.close();
  await own?.stop();
}
