/**
 * The world of test/runtime/child-links.test.ts: its definitions (a parent and its child sagas,
 * and the file after a reload) and a rig that feeds an engine's inputs directly and catches its
 * outbox rows as the relay would take them.
 */
import { join } from 'node:path';
import { formatDefinitionError, loadDefinitionsText } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import { Engine } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import type { StorePort } from '../../engine/store/port.js';
import type { OutboxRow } from '../../engine/store/outbox.js';
import { parseEnvelope } from '../../engine/transport/envelope.js';

export const YAML = `
sagas:
  - name: parent
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: hold
        command: { subject: a.commands, type: Hold, payload: { x: "{% $input.x %}" } }
        reply: { subject: a.events, success: [Held], failure: [NotHeld] }
        compensate:
          command: { subject: a.commands, type: Unhold, payload: {} }
          reply: { subject: a.events, success: [Unheld] }
      - name: wait-a-bit
        delay: { for: 50ms }
      - name: kid
        saga: child
        input: { x: "{% $input.x %}" }
      - name: finish
        command: { subject: a.commands, type: Finish, payload: { got: "{% $steps.kid.steps.work.n %}" } }
        reply: { subject: a.events, success: [Finished], failure: [NotFinished] }
        compensate:
          command: { subject: a.commands, type: Unfinish, payload: {} }
          reply: { subject: a.events, success: [Unfinished] }
  - name: keyed
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: hold
        command: { subject: a.commands, type: Hold, payload: {} }
        reply: { subject: a.events, success: [Held], failure: [NotHeld] }
        compensate:
          command: { subject: a.commands, type: Unhold, payload: {} }
          reply: { subject: a.events, success: [Unheld] }
      - name: kid
        saga: child
        input: { x: 0 }
        key: "{% $input.k %}"
  - name: child
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: work
        command: { subject: b.commands, type: Work, payload: { x: "{% $input.x %}" } }
        reply: { subject: b.events, success: [Worked], failure: [NoWork] }
        compensate:
          command: { subject: b.commands, type: Unwork, payload: {} }
          reply: { subject: b.events, success: [Unworked] }
  - name: fork
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: hold
        command: { subject: a.commands, type: Hold, payload: {} }
        reply: { subject: a.events, success: [Held], failure: [NotHeld] }
        compensate:
          command: { subject: a.commands, type: Unhold, payload: {} }
          reply: { subject: a.events, success: [Unheld] }
      - name: both
        parallel:
          - - name: kid
              saga: child
              input: { x: 0 }
              key: "{% $input.k %}"
          - - name: pause
              delay: { until: "{% $input.shipAt %}" }
  - name: fork-grab
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: hold
        command: { subject: a.commands, type: Hold, payload: {} }
        reply: { subject: a.events, success: [Held], failure: [NotHeld] }
        compensate:
          command: { subject: a.commands, type: Unhold, payload: {} }
          reply: { subject: a.events, success: [Unheld] }
      - name: both
        parallel:
          - - name: kid
              saga: child
              input: { x: 0 }
              key: "{% $input.k %}"
          - - name: grab
              command: { subject: a.commands, type: Grab, payload: {} }
              reply: { subject: a.events, success: [Grabbed], failure: [NotGrabbed] }
              compensate:
                command: { subject: a.commands, type: Ungrab, payload: {} }
                reply: { subject: a.events, success: [Ungrabbed] }
          - - name: pause
              delay: { until: "{% $input.shipAt %}" }
  - name: outer
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: mid
        saga: middle
        input: { x: 1 }
      - name: finish
        pivot: true
        command: { subject: a.commands, type: Finish, payload: {} }
        reply: { subject: a.events, success: [Finished], failure: [NotFinished] }
  - name: middle
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: inner
        saga: child
        input: { x: "{% $input.x %}" }
  - name: twins
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: both
        parallel:
          - - name: kid-a
              saga: child
              input: { x: 1 }
              key: "{% $input.k %}"
          - - name: kid-b
              saga: child
              input: { x: 2 }
              key: "{% $input.k %}"
  - name: twins-by-start
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: both
        parallel:
          - - name: kid-a
              saga: begun
              input: { k: "{% $input.k %}" }
          - - name: kid-b
              saga: begun
              input: { k: "{% $input.k %}" }
  - name: on-begin
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: go
        wait: { subject: e.events, type: Begin }
      - name: kid
        saga: begun
        input: { k: "{% $input.k %}" }
  - name: begun
    start:
      on: { subject: e.events, type: Begin }
      key: "{% $input.k %}"
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: work
        command: { subject: b.commands, type: Work, payload: {} }
        reply: { subject: b.events, success: [Worked], failure: [NoWork] }
        compensate:
          command: { subject: b.commands, type: Unwork, payload: {} }
          reply: { subject: b.events, success: [Unworked] }
  - name: waits-and-kid
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: all
        parallel:
          - - name: w1
              wait: { subject: e.events, type: E }
          - - name: w2
              wait: { subject: e.events, type: E }
          - - name: kid
              saga: waiter
              input: {}
  - name: waiter
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: cw
        wait: { subject: e.events, type: E }
`;

/** The file after a reload: \`child\` has a pivot, so \`keyed\` starts it only after its own (and \`parent\` is gone). */
export const RELOADED = `
sagas:
  - name: keyed
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: hold
        pivot: true
        command: { subject: a.commands, type: Hold, payload: {} }
        reply: { subject: a.events, success: [Held], failure: [NotHeld] }
      - name: kid
        saga: child
        input: { x: 0 }
        key: "{% $input.k %}"
  - name: child
    defaults: { timeout: 5s, retry: { maxAttempts: 1 } }
    steps:
      - name: work
        pivot: true
        command: { subject: b.commands, type: Work, payload: { x: "{% $input.x %}" } }
        reply: { subject: b.events, success: [Worked] }
`;

export interface Rig {
  /** The test's directory. */
  dir: string;
  engine: Engine;
  store: StorePort;
  sent: OutboxRow[];
  /** The last command sent of `type` (for `instance`): its envelope id. */
  command(type: string, instance: string): string;
  reply(type: string, causationId: string, payload?: unknown): Promise<unknown>;
  /** Delivers an event of `type` on e.events, which wait steps and triggers take. */
  event(type: string, payload?: unknown): Promise<unknown>;
  fireDue(at: number): Promise<void>;
}

/** `sent` may be shared with another rig (a replica): whichever wins a race publishes. */
export function makeRig(store: StorePort, dir: string, sent: OutboxRow[] = [], yaml = YAML): Rig {
  const loaded = loadDefinitionsText(yaml, join(dir, 'defs.yaml'));
  if (!loaded.ok) throw new Error(loaded.errors.map(formatDefinitionError).join('\n'));
  const engine = new Engine({ store, registry: new Registry(loaded.sagas), log: silentLog, relay: { push: (rows) => { sent.push(...rows); } } });
  let n = 0;
  return {
    dir, engine, store, sent,
    command(type, instance) {
      const row = [...sent].reverse().find((r) => r.headers['Saga-Id'] === instance && parseEnvelope(r.data).ok && (parseEnvelope(r.data) as { envelope: { eventType: string } }).envelope.eventType === type);
      if (row === undefined) throw new Error(`no ${type} sent for ${instance}: ${sent.map((r) => `${r.headers['Saga-Id']} ${r.subject}`).join(', ')}`);
      return row.messageId;
    },
    reply(type, causationId, payload = {}) {
      return engine.receive({
        subject: ['Worked', 'NoWork', 'Unworked'].includes(type) ? 'b.events' : 'a.events',
        eventId: `reply-${++n}`, eventType: type, correlationId: 'corr', causationId, aggregateId: 'a', version: 1, payload, envelope: {},
      });
    },
    event(type, payload = {}) {
      return engine.receive({
        subject: 'e.events', eventId: `event-${++n}`, eventType: type, correlationId: 'corr', causationId: '', aggregateId: 'a', version: 1, payload, envelope: {},
      });
    },
    async fireDue(at) {
      for (const row of await store.claimDueTimers(at, 100, 10_000)) await engine.fire(row);
    },
  };
}
