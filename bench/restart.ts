import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Msg } from '@nats-io/transport-node';
import { encodeEnvelope, type Envelope } from '../engine/transport/envelope.js';
import { memoryMb, root } from './proc.js';
import { sandbox, sqliteDb, startSagad, type Db } from './targets.js';
import { envelope, link, orderPlaced, publish, replyTo } from './wire.js';

export interface RestartResult {
  readonly inFlight: number;
  readonly createSeconds: number;
  readonly stopSeconds: number;
  /** From spawning the new sagad until /readyz answered 200 (polled every 10 ms). */
  readonly readySeconds: number;
  /** The same for the first start, on an empty database: the fixed part of the ready time. */
  readonly emptyReadySeconds: number;
  /** From spawning it until the first next-step command (ChargePayment) of a resumed saga arrived. */
  readonly firstStepSeconds: number;
  /** From spawning it until every in-flight saga had sent its next command. */
  readonly allStepsSeconds: number;
  readonly resumed: number;
  readonly rssMb: number;
}

/**
 * order-fulfillment with 10-minute step timeouts: in-flight instances at a restart are
 * waiting for replies, with no timer falling due during the measurement.
 */
function patientDefinitions(file: string): void {
  const text = readFileSync(join(root, 'sagas', 'order-fulfillment.yaml'), 'utf8')
    .replace(/timeout: \d+s/g, 'timeout: 10m')
    .replace(/: schemas\//g, `: ${join(root, 'sagas', 'schemas')}/`);
  writeFileSync(file, text);
}

/**
 * Starts `n` sagas through sagad whose first command is never answered, stops sagad
 * (SIGTERM), queues the replies in JetStream while it is down, starts sagad again on the
 * same database and times: ready, the first resumed step, and all resumed steps.
 */
export async function runRestart(n: number, store: Db = sqliteDb): Promise<RestartResult> {
  const box = await sandbox();
  const db = await store.fresh(box.dir, 'restart');
  const defs = join(box.dir, 'order-fulfillment-patient.yaml');
  patientDefinitions(defs);
  const { nc, js } = await link(box.nats.url, 'bench-restart');
  let first: number | null = null;
  try {
    const commands = new Map<string, Envelope>();
    const decoder = new TextDecoder();
    nc.subscribe('inventory.commands', { callback: (_e: Error | null, m: Msg) => { const c = JSON.parse(decoder.decode(m.data)) as Envelope; commands.set(c.correlationId, c); } });
    const resumed = new Set<string>();
    nc.subscribe('payments.commands', { callback: (_e: Error | null, m: Msg) => { first ??= performance.now(); resumed.add((JSON.parse(decoder.decode(m.data)) as Envelope).correlationId); } });
    await nc.flush();

    let sagad = await startSagad({ natsUrl: box.nats.url, db, definitions: defs });
    const emptyReadySeconds = sagad.readyMs / 1000;
    const began = performance.now();
    let sent = 0;
    let done = 0;
    while (done < n) {
      while (sent < n && sent - done < 500) {
        const order = orderPlaced(`r-${sent++}`);
        const body = encodeEnvelope(envelope('StartOrder', order.aggregateId, order.correlationId, null, { input: order.payload }));
        void nc.request('sagas.start.order-fulfillment', body, { timeout: 30_000 }).finally(() => { done += 1; });
      }
      await delay(2);
    }
    for (let waited = 0; commands.size < n && waited < 60_000; waited += 20) await delay(20);
    const createSeconds = (performance.now() - began) / 1000;
    if (commands.size < n) throw new Error(`only ${commands.size} of ${n} first commands arrived`);

    const stopBegan = performance.now();
    await sagad.stop();
    const stopSeconds = (performance.now() - stopBegan) / 1000;
    await Promise.all([...commands.values()].map((c) => {
      const r = replyTo(c, false);
      return r === undefined ? undefined : publish(js, r.subject, r.envelope);
    }));

    sagad = await startSagad({ natsUrl: box.nats.url, db, definitions: defs });
    const readySeconds = sagad.readyMs / 1000;
    for (let waited = 0; resumed.size < n && waited < 60_000; waited += 10) await delay(10);
    const allSteps = performance.now();
    const rssMb = memoryMb(sagad.pid);
    await sagad.stop();
    return {
      inFlight: n, createSeconds, stopSeconds, readySeconds, emptyReadySeconds,
      firstStepSeconds: first === null ? -1 : (first - sagad.spawnedAt) / 1000,
      allStepsSeconds: (allSteps - sagad.spawnedAt) / 1000, resumed: resumed.size, rssMb,
    };
  } finally {
    await nc.close();
    await box.close();
  }
}
