import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDefinitionsFile } from '../engine/definitions/index.js';
import { Engine } from '../engine/runtime/engine.js';
import { inboundHandler } from '../engine/runtime/inbound.js';
import { Registry } from '../engine/runtime/registry.js';
import { openStore, type Store } from '../engine/store/index.js';
import { sqlitePort } from '../engine/store/sqlite-port.js';
import { encodeEnvelope, parseEnvelope, type Envelope } from '../engine/transport/envelope.js';
import type { InboundMessage } from '../engine/transport/consumer.js';
import { root } from './proc.js';
import { END_TYPES, orderPlaced, replyTo } from './wire.js';

/** The engine alone: what its hot path costs without NATS, sockets or other processes. */
export interface EngineLoopResult {
  readonly sagas: number;
  readonly concurrency: number;
  readonly rounds: number;
  /** Of the round that used the least CPU per saga (other work only ever adds to it). */
  readonly sagasPerSecond: number;
  readonly cpuMsPerSaga: number;
  readonly cpuMsPerSagaEachRound: number[];
}

const message = (subject: string, env: Envelope): InboundMessage => ({
  subject, data: encodeEnvelope(env), headers: {}, deliveryCount: 1, redelivered: false, maxDeliver: 5, lastAttempt: false, streamSequence: 1,
});

/**
 * Drives `sagas` sagas of the example through `handleInbound`, `concurrency` at a time, on
 * `store`: replies are made from the outbox rows the engine committed, as a participant that
 * answers at once would; the rows are marked sent as they are read, or with `markEveryMs`
 * that often (sagad's relay marks every 100 ms). Resolves once all have ended.
 */
export async function driveSagas(
  store: Store, handleInbound: (m: InboundMessage) => Promise<unknown>, sagas: number, concurrency: number, opts: { markEveryMs?: number } = {},
): Promise<void> {
  const markEveryMs = opts.markEveryMs ?? 0;
  // Rows read and answered, not yet marked sent (with markEveryMs, as sagad's relay marks every 100 ms).
  const answered = new Set<number>();
  let markedAt = performance.now();
  const mark = (): void => {
    if (answered.size === 0) return;
    store.markSent([...answered], Date.now());
    answered.clear();
    markedAt = performance.now();
  };
  const inflight = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  let started = 0;
  let ended = 0;
  // Keys of their own, so that a second drive on the same store starts new sagas.
  const run = randomUUID().slice(0, 8);
  const startOne = () => track(handleInbound(message('orders.events', orderPlaced(`bench-${run}-${started++}`))));
  for (let i = 0; i < Math.min(concurrency, sagas); i++) startOne();
  while (ended < sagas) {
    await new Promise((resolve) => setImmediate(resolve));
    if (performance.now() - markedAt >= markEveryMs) mark();
    const rows = store.unsent(1000 + answered.size).filter((r) => !answered.has(r.seq));
    if (rows.length === 0) {
      if (inflight.size === 0) throw new Error(`the engine loop stalled after ${ended} sagas`);
      continue;
    }
    for (const r of rows) answered.add(r.seq);
    if (markEveryMs === 0) mark();
    for (const r of rows) {
      const parsed = parseEnvelope(r.data);
      if (!parsed.ok) throw new Error(`the engine wrote an unreadable envelope: ${parsed.reason}`);
      const env = parsed.envelope;
      if (r.subject === 'sagas.events') {
        if (END_TYPES.has(env.eventType)) {
          ended++;
          if (started < sagas) startOne();
        }
        continue;
      }
      const reply = replyTo(env, false);
      if (reply !== undefined) track(handleInbound(message(reply.subject, reply.envelope)));
    }
  }
  await Promise.all(inflight);
  mark();
}

/** The example saga's engine on a real SQLite file (WAL, synchronous=FULL) in `dir`, as sagad wires it, without NATS. */
export function exampleEngine(dir: string): { store: Store; handleInbound: (m: InboundMessage) => Promise<unknown> } {
  const loaded = loadDefinitionsFile(join(root, 'sagas', 'order-fulfillment.yaml'));
  if (!loaded.ok) throw new Error('the example definitions do not load');
  const store = openStore(join(dir, 'sagad.db'));
  const port = sqlitePort(store);
  const engine = new Engine({ store: port, registry: new Registry(loaded.sagas), log: () => {} });
  return { store, handleInbound: inboundHandler(engine, port, () => {}) };
}

/**
 * One round: the example saga driven through the inbound handler and a real SQLite file (WAL,
 * synchronous=FULL), `concurrency` sagas at a time (driveSagas). No NATS: the figure is the
 * ceiling the engine's own CPU sets, and a steadier one than a scenario's for comparing two
 * builds of the hot path.
 */
async function round(sagas: number, concurrency: number): Promise<{ sagasPerSecond: number; cpuMsPerSaga: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sagad-bench-engine-'));
  const { store, handleInbound } = exampleEngine(dir);
  try {
    const wall = performance.now();
    const cpu = process.cpuUsage();
    await driveSagas(store, handleInbound, sagas, concurrency);
    const used = process.cpuUsage(cpu);
    return { sagasPerSecond: sagas / ((performance.now() - wall) / 1000), cpuMsPerSaga: (used.user + used.system) / 1000 / sagas };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Several rounds in this process; reports the cheapest. */
export async function runEngineLoop(sagas: number, concurrency: number, rounds: number): Promise<EngineLoopResult> {
  const results = [];
  for (let i = 0; i < rounds; i++) results.push(await round(sagas, concurrency));
  const best = results.reduce((a, b) => (b.cpuMsPerSaga < a.cpuMsPerSaga ? b : a));
  return { sagas, concurrency, rounds, ...best, cpuMsPerSagaEachRound: results.map((r) => r.cpuMsPerSaga) };
}
