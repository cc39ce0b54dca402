import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDefinitionError, loadDefinitionsText } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import { uuidv7 } from '../../engine/ids.js';
import { Engine, type EngineDeps } from '../../engine/runtime/engine.js';
import type { StorePort } from '../../engine/store/port.js';
import { inboundHandler } from '../../engine/runtime/inbound.js';
import { Registry } from '../../engine/runtime/registry.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import type { InboundMessage, Verdict } from '../../engine/transport/consumer.js';
import { encodeEnvelope } from '../../engine/transport/envelope.js';

/**
 * The engine without NATS, on a real SQLite file, for definitions written in the test: messages
 * go through the inbound handler as the consumers hand them over.
 */
export interface Rig {
  readonly store: Store;
  readonly engine: Engine;
  /** Hands one envelope (with these headers) to the inbound handler, as a consumer would. */
  deliver(subject: string, env: Partial<EnvelopeFields>, headers?: Record<string, string>): Promise<Verdict>;
}

/** The envelope fields a test sets; the others get defaults. */
export interface EnvelopeFields {
  eventId: string;
  eventType: string;
  aggregateId: string;
  version: number;
  correlationId: string;
  causationId: string | null;
  payload: unknown;
}

/** Loads `yaml` (written into the test directory) and builds an engine over a fresh SQLite file (its port wrapped by `wrapStore`, if given). */
export function rig(t: { testdir(): string; teardown(fn: () => void): void }, yaml: string, opts: Partial<EngineDeps> & { wrapStore?: (port: StorePort) => StorePort } = {}): Rig {
  const { wrapStore, ...deps } = opts;
  const dir = t.testdir();
  const file = join(dir, 'defs.yaml');
  writeFileSync(file, yaml);
  const loaded = loadDefinitionsText(yaml, file);
  if (!loaded.ok) throw new Error(loaded.errors.map(formatDefinitionError).join('\n'));
  const store = openStore(join(dir, 'sagad.db'));
  t.teardown(() => store.close());
  const port = sqlitePort(store);
  const engine = new Engine({ store: wrapStore?.(port) ?? port, registry: new Registry(loaded.sagas), log: silentLog, ...deps });
  const handle = inboundHandler(engine, engine.deps.store, deps.log ?? silentLog);
  let seq = 0;
  return {
    store, engine,
    deliver(subject, env, headers = {}) {
      const data = encodeEnvelope({
        eventId: uuidv7(), eventType: 'X', aggregateId: 'a', timestamp: new Date().toISOString(), version: 1, correlationId: 'corr-1', causationId: null, payload: {},
        ...env,
      } as Parameters<typeof encodeEnvelope>[0]);
      const msg: InboundMessage = { subject, data, headers, deliveryCount: 1, redelivered: false, maxDeliver: 5, lastAttempt: false, streamSequence: ++seq };
      return handle(msg);
    },
  };
}
