import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { loadDefinitionsFile, formatDefinitionError } from '../../engine/definitions/index.js';
import { createLogger } from '../../engine/log.js';
import { loadConfig } from '../../engine/config.js';
import { startSagad, type Sagad } from '../../engine/main.js';
import type { InboundMessage } from '../../engine/transport/consumer.js';
import { encodeEnvelope } from '../../engine/transport/envelope.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { Api } from './api-client.js';
import { ORDER_DEFS, startParticipant } from './harness.js';
import type { ParticipantProc } from './harness.js';
import { flagName, readLedger } from './ledger.js';
import type { LedgerEntry } from './ledger.js';

/**
 * sagad's engine in the test process (`startSagad`, the composition root `main.ts` runs) with a real
 * nats-server, a SQLite file and the scripted participant: for tests that must hand the engine
 * several inputs in one turn of the event loop, so they share one group commit.
 */
export interface InProcess {
  readonly server: Sagad;
  readonly api: Api;
  readonly participant: ParticipantProc;
  ledger(): LedgerEntry[];
  flag(orderId: string, what: string): void;
  /** The engine's last log lines and the participant's, for an assertion's diagnostics. */
  diag(extra?: Record<string, unknown>): Record<string, unknown>;
}

/** Starts nats-server, the participant and the engine in this process; all stop on teardown. */
export async function startInProcess(t: Test, definitions = ORDER_DEFS): Promise<InProcess> {
  const dir = t.testdir();
  const controlDir = join(dir, 'control');
  mkdirSync(controlDir, { recursive: true });
  const ledgerPath = join(dir, 'ledger.jsonl');
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const participant = await startParticipant({ NATS_URL: nats.url, LEDGER: ledgerPath, RECEIVED: join(dir, 'received.jsonl'), CONTROL_DIR: controlDir });
  t.teardown(() => participant.child.kill('SIGKILL'));
  const defs = loadDefinitionsFile(definitions);
  if (!defs.ok) throw new Error(defs.errors.map(formatDefinitionError).join('\n'));
  const lines: string[] = [];
  const log = createLogger('info', (line) => {
    lines.push(line.trimEnd());
    if (lines.length > 200) lines.shift();
  });
  const config = loadConfig({ SAGA_DEFINITIONS: definitions, SAGA_DB: join(dir, 'sagad.db'), NATS_URL: nats.url, SAGA_HTTP_HOST: '127.0.0.1', SAGA_HTTP_PORT: '0' });
  const server = await startSagad(config, defs.sagas, log);
  t.teardown(() => server.stop());
  return {
    server, participant,
    api: new Api(() => server.httpUrl),
    ledger: () => readLedger(ledgerPath),
    flag: (orderId, what) => writeFileSync(join(controlDir, flagName(orderId, what)), ''),
    diag: (extra = {}) => ({ ...extra, engineLog: lines.slice(-25).join('\n'), participantLog: participant.stderr.slice(-10).join('\n') }),
  };
}

/**
 * The message the participant decided to send for a ledger fact (same eventId, same payload),
 * as sagad's consumer would hand it over: a reply that finally gets through.
 */
export function replyOf(fact: LedgerEntry, subject: string, correlationId: string): InboundMessage {
  if (fact.reply === null || fact.replyId === null) throw new Error(`ledger #${fact.seq} has no answer`);
  const data = encodeEnvelope({
    eventId: fact.replyId, eventType: fact.reply, aggregateId: fact.orderId, timestamp: new Date().toISOString(), version: 1,
    correlationId, causationId: fact.commandId, payload: fact.payload,
  });
  return { subject, data, headers: {}, deliveryCount: 1, redelivered: false, maxDeliver: 5, lastAttempt: false, streamSequence: 0 };
}
