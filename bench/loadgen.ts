import { Agent, request } from 'node:http';
import type { Msg } from '@nats-io/transport-node';
import type { Envelope } from '../engine/transport/envelope.js';
import { percentiles, type Percentiles } from './stats.js';
import { END_TYPES, SUBJECTS, link, orderPlaced, publish, replyTo } from './wire.js';

/** What the orchestrator asks of one load run. */
export interface LoadSpec {
  readonly natsUrl: string;
  /** Sagas kept in flight (closed loop). */
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Every n-th saga's ShipOrder is rejected, so it compensates; 0 for none. */
  readonly failEvery: number;
  /** How long to wait for the sagas in flight after the window. */
  readonly drainMs: number;
  /** Makes order ids unique across runs on one server. */
  readonly runId: string;
  /** How sagas start: an `OrderPlaced` event on orders.events, or `POST {httpUrl}/v1/sagas/order-fulfillment/instances`. */
  readonly startVia: 'event' | 'http';
  readonly httpUrl?: string;
}

/** What one load run measured; times in ms. */
export interface LoadResult {
  readonly sagasPerSecond: number;
  /** Commands received by the participants in the window (forward steps and compensations), per second. */
  readonly stepsPerSecond: number;
  /** Inputs the target was sent in the window (starts and replies), per second. */
  readonly inputsPerSecond: number;
  readonly finishedInWindow: number;
  readonly latency: Percentiles;
  /** Reply published by the participant to the next command (or end event) of that saga received. */
  readonly stepOverhead: Percentiles;
  /** Start event published (or start request sent) to the first command received. */
  readonly startOverhead: Percentiles;
  /** HTTP starts only: request sent to its 201 received. */
  readonly startResponse: Percentiles;
  readonly started: number;
  readonly completed: number;
  readonly compensated: number;
  readonly failed: number;
  /** Sagas that ended other than expected (completed although rejected, or the reverse). */
  readonly wrongOutcome: number;
  /** Sagas still in flight when the drain time ran out. */
  readonly unfinished: number;
  readonly publishErrors: number;
  readonly duplicateCommands: number;
  /** CPU seconds of this load generator during the window. */
  readonly loadgenCpuSeconds: number;
}

/** Messages the load generator sends its parent. */
export type LoadMessage = { type: 'window'; phase: 'start' | 'end' } | { type: 'result'; result: LoadResult } | { type: 'error'; message: string };

interface Saga {
  readonly seq: number;
  readonly reject: boolean;
  readonly startedAt: number;
  /** When this saga's last message to the engine was published; null while the engine's answer has arrived. */
  pendingSince: number | null;
  pendingIsStart: boolean;
  lastCommandId: string;
}

const decoder = new TextDecoder();

/**
 * The load generator and the simulated participants in one process: it keeps `concurrency`
 * sagas in flight by publishing OrderPlaced events, answers every command at once, and
 * measures on its own clock, so sagad and the reference loop are measured the same way.
 */
export async function runLoad(spec: LoadSpec, notify: (m: LoadMessage) => void): Promise<LoadResult> {
  const { nc, js } = await link(spec.natsUrl, 'bench-loadgen');
  const sagas = new Map<string, Saga>();
  const latencies: number[] = [];
  const steps: number[] = [];
  const starts: number[] = [];
  let seq = 0;
  let finishedInWindow = 0;
  let stepsInWindow = 0;
  let inputsInWindow = 0;
  const responses: number[] = [];
  const counts = { completed: 0, compensated: 0, failed: 0, wrongOutcome: 0, publishErrors: 0, duplicateCommands: 0 };
  let windowStart = Infinity;
  let windowEnd = Infinity;
  let starting = true;
  let checkOpen: (now: number) => void = () => undefined;
  let drained: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => { drained = resolve; });
  const inWindow = (t: number) => t >= windowStart && t <= windowEnd;
  const failed = () => { counts.publishErrors += 1; };

  const startOne = (): void => {
    const n = seq++;
    const orderId = `o-${spec.runId}-${n}`;
    const at = performance.now();
    sagas.set(orderId, { seq: n, reject: spec.failEvery > 0 && n % spec.failEvery === spec.failEvery - 1, startedAt: at, pendingSince: at, pendingIsStart: true, lastCommandId: '' });
    if (inWindow(at)) inputsInWindow += 1;
    if (spec.startVia === 'event') publish(js, SUBJECTS.start, orderPlaced(orderId)).catch(failed);
    else httpStart(orderId, at);
  };

  // One keep-alive connection per saga in flight at most, as a service's HTTP client would hold.
  const agent = new Agent({ keepAlive: true, maxSockets: spec.concurrency });
  const startUrl = new URL('/v1/sagas/order-fulfillment/instances', spec.httpUrl ?? 'http://127.0.0.1');
  const httpStart = (orderId: string, at: number): void => {
    const doc = JSON.stringify({ input: orderPlaced(orderId).payload, key: orderId, correlationId: orderId });
    const req = request(startUrl, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(doc) } }, (res) => {
      res.resume();
      res.once('end', () => {
        const now = performance.now();
        if (res.statusCode !== 201) failed();
        else if (inWindow(now)) responses.push(now - at);
      });
    });
    req.once('error', failed);
    req.end(doc);
  };

  /** The engine answered this saga: take the overhead sample of the message that was waiting. */
  const answered = (s: Saga, now: number): void => {
    if (s.pendingSince === null) return;
    if (inWindow(now)) (s.pendingIsStart ? starts : steps).push(now - s.pendingSince);
    s.pendingSince = null;
  };

  const onCommand = (_err: Error | null, msg: Msg): void => {
    const now = performance.now();
    const cmd = JSON.parse(decoder.decode(msg.data)) as Envelope;
    const s = sagas.get(cmd.correlationId);
    if (s === undefined || s.lastCommandId === cmd.eventId) {
      counts.duplicateCommands += 1;
      return;
    }
    s.lastCommandId = cmd.eventId;
    answered(s, now);
    const reply = replyTo(cmd, s.reject);
    if (reply === undefined) return;
    if (inWindow(now)) {
      stepsInWindow += 1;
      inputsInWindow += 1;
    }
    s.pendingSince = performance.now();
    s.pendingIsStart = false;
    publish(js, reply.subject, reply.envelope).catch(failed);
  };

  const onLifecycle = (_err: Error | null, msg: Msg): void => {
    const now = performance.now();
    const e = JSON.parse(decoder.decode(msg.data)) as Envelope;
    if (!END_TYPES.has(e.eventType)) return;
    const s = sagas.get(e.correlationId);
    if (s === undefined) return;
    answered(s, now);
    sagas.delete(e.correlationId);
    if (e.eventType === 'SagaCompleted') counts.completed += 1;
    else if (e.eventType === 'SagaCompensated') counts.compensated += 1;
    else counts.failed += 1;
    if ((e.eventType === 'SagaCompensated') !== s.reject) counts.wrongOutcome += 1;
    if (inWindow(now)) {
      finishedInWindow += 1;
      latencies.push(now - s.startedAt);
    } else if (windowStart === Infinity) checkOpen(now);
    if (starting) startOne();
    else if (sagas.size === 0) drained();
  };

  for (const subject of SUBJECTS.commands) nc.subscribe(subject, { callback: onCommand });
  nc.subscribe(SUBJECTS.lifecycle, { callback: onLifecycle });
  await nc.flush();

  // The window opens after the warm-up and once the first `concurrency` sagas have ended, so
  // that a slow first wave at high concurrency is never measured as the steady state.
  let cpuWindow = process.cpuUsage();
  let opened: () => void = () => undefined;
  const open = new Promise<void>((resolve) => { opened = resolve; });
  const warm = performance.now() + spec.warmupMs;
  const tryOpen = (now: number): void => {
    if (windowStart !== Infinity || now < warm || (counts.completed + counts.compensated + counts.failed < spec.concurrency && now < warm + 30_000)) return;
    windowStart = now;
    windowEnd = now + spec.durationMs;
    cpuWindow = process.cpuUsage();
    notify({ type: 'window', phase: 'start' });
    opened();
  };
  checkOpen = tryOpen;
  const poll = setInterval(() => tryOpen(performance.now()), 20);
  for (let i = 0; i < spec.concurrency; i++) startOne();
  await open;
  clearInterval(poll);
  await new Promise((r) => setTimeout(r, Math.max(0, windowEnd - performance.now())));
  const cpu = process.cpuUsage(cpuWindow);
  notify({ type: 'window', phase: 'end' });
  starting = false;
  if (sagas.size > 0) await Promise.race([allDone, new Promise((r) => setTimeout(r, spec.drainMs))]);
  const unfinished = sagas.size;
  await nc.close();
  agent.destroy();
  const seconds = spec.durationMs / 1000;
  return {
    sagasPerSecond: finishedInWindow / seconds, stepsPerSecond: stepsInWindow / seconds, inputsPerSecond: inputsInWindow / seconds, finishedInWindow,
    latency: percentiles(latencies), stepOverhead: percentiles(steps), startOverhead: percentiles(starts), startResponse: percentiles(responses),
    started: seq, ...counts, unfinished, loadgenCpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

// Run as a forked child: the spec comes in by IPC, the result goes back the same way.
if (process.send !== undefined) {
  process.once('message', (spec: LoadSpec) => {
    const send = (m: LoadMessage) => process.send?.(m);
    runLoad(spec, send).then(
      (result) => { send({ type: 'result', result }); process.disconnect(); },
      (err: unknown) => { send({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) }); process.disconnect(); },
    );
  });
}
