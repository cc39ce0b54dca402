/**
 * Two inputs of one parent and its child, each reading the other through a link (linked.ts)
 * before either writes: an operator's retry of the parent, and the child's reply that ends it.
 * Each finds the other as it was before and leaves it unchanged (the child still compensating
 * or running, the parent still failed); the store checks the versions of those reads
 * (`InputWrite.reads`), so the second write to arrive is a conflict, decided again on what the
 * first wrote, and the parent ends instead of waiting for ever for a child that has ended. The
 * interleaving is forced: the store holds both writes until both were decided, then commits
 * them one after the other, in both orders, on a SQLite file and on a real PostgreSQL.
 */
import { join } from 'node:path';
import type { Test } from 'tap';
import { formatDefinitionError, loadDefinitionsText } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import { Engine } from '../../engine/runtime/engine.js';
import { Registry } from '../../engine/runtime/registry.js';
import type { OutboxRow } from '../../engine/store/outbox.js';
import type { InputWrite, StorePort, WriteOutcome } from '../../engine/store/port.js';
import { parseEnvelope } from '../../engine/transport/envelope.js';
import { onBothStores } from '../helpers/both-stores.js';

const YAML = `
sagas:
  - name: trip
    defaults: { timeout: 1h }
    steps:
      - name: stay
        saga: book-stay
        input: {}
      - name: pay
        pivot: true
        command: { subject: pay.commands, type: Pay }
        reply: { subject: pay.events, success: [Paid], failure: [Declined] }
        retry: { maxAttempts: unlimited, initialInterval: 100ms }
  - name: tour
    defaults: { timeout: 1h }
    steps:
      - name: pay
        pivot: true
        command: { subject: pay.commands, type: Pay }
        reply: { subject: pay.events, success: [Paid], failure: [Declined] }
        retry: { maxAttempts: unlimited, initialInterval: 100ms }
      - name: after
        parallel:
          - - name: stay
              saga: book-on
              input: {}
          - - name: ride
              saga: book-on
              input: {}
  - name: book-on
    defaults: { timeout: 1h, retry: { maxAttempts: unlimited, initialInterval: 100ms } }
    steps:
      - name: book
        command: { subject: hotel.commands, type: Book }
        reply: { subject: hotel.events, success: [Booked] }
        compensate:
          command: { subject: hotel.commands, type: Cancel }
          reply: { subject: hotel.events, success: [Cancelled] }
  - name: book-stay
    defaults: { timeout: 1h }
    steps:
      - name: book
        command: { subject: hotel.commands, type: Book }
        reply: { subject: hotel.events, success: [Booked] }
        compensate:
          command: { subject: hotel.commands, type: Cancel }
          reply: { subject: hotel.events, success: [Cancelled], failure: [CannotCancel] }
          retry: { maxAttempts: 1 }
`;

/**
 * The store seen through a gate: once `hold` is called, the next two writes are held until both
 * have arrived (both inputs decided), then committed one after the other, the one `first`
 * picks first; their outcomes are kept in commit order. Later writes (a retry) pass.
 */
function gated(port: StorePort): { store: StorePort; hold(first: (w: InputWrite) => boolean): void; outcomes: WriteOutcome['status'][] } {
  let first: ((w: InputWrite) => boolean) | null = null;
  const held: { w: InputWrite; resolve: (o: WriteOutcome) => void; reject: (e: unknown) => void }[] = [];
  const outcomes: WriteOutcome['status'][] = [];
  const release = async (pick: (w: InputWrite) => boolean): Promise<void> => {
    const ordered = [...held.filter((h) => pick(h.w)), ...held.filter((h) => !pick(h.w))];
    held.length = 0;
    for (const h of ordered) {
      try {
        const o = await port.commit(h.w);
        outcomes.push(o.status);
        h.resolve(o);
      } catch (err) {
        h.reject(err);
      }
    }
  };
  const commit = (w: InputWrite): Promise<WriteOutcome> => {
    if (first === null) return port.commit(w);
    return new Promise((resolve, reject) => {
      held.push({ w, resolve, reject });
      if (held.length < 2 || first === null) return;
      const pick = first;
      first = null;
      void release(pick);
    });
  };
  const store = new Proxy(port, {
    get(target, prop) {
      if (prop === 'commit') return commit;
      const v: unknown = Reflect.get(target, prop);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store, hold: (pick) => { first = pick; }, outcomes };
}

interface Rig {
  engine: Engine;
  gate: ReturnType<typeof gated>;
  /** The last command of `type` sent for `instance`: its envelope id. */
  command(type: string, instance: string): string;
  reply(subject: string, type: string, causationId: string): Promise<unknown>;
}

function makeRig(port: StorePort, dir: string): Rig {
  const loaded = loadDefinitionsText(YAML, join(dir, 'defs.yaml'));
  if (!loaded.ok) throw new Error(loaded.errors.map(formatDefinitionError).join('\n'));
  const gate = gated(port);
  const sent: OutboxRow[] = [];
  const engine = new Engine({ store: gate.store, registry: new Registry(loaded.sagas), log: silentLog, relay: { push: (rows) => { sent.push(...rows); } } });
  let n = 0;
  const typeOf = (r: OutboxRow): string | undefined => {
    const p = parseEnvelope(r.data);
    return p.ok ? p.envelope.eventType : undefined;
  };
  return {
    engine, gate,
    command(type, instance) {
      const row = [...sent].reverse().find((r) => r.headers['Saga-Id'] === instance && typeOf(r) === type);
      if (row === undefined) throw new Error(`no ${type} sent for ${instance}`);
      return row.messageId;
    },
    reply(subject, type, causationId) {
      return engine.receive({
        subject, eventId: `reply-${++n}`, eventType: type, correlationId: 'corr', causationId, aggregateId: 'a', version: 1, payload: {}, envelope: {},
      });
    },
  };
}

const isRetry = (w: InputWrite): boolean => w.messageId === null;
const isReply = (w: InputWrite): boolean => w.messageId !== null;

async function scenarios(t: Test, open: () => Promise<StorePort>): Promise<void> {
  for (const [order, first] of [['the parent\'s retry', isRetry], ['the child\'s reply', isReply]] as const) {
    t.test(`a child's compensation retried: the parent's retry and the child's end race, ${order} committed first; the parent ends compensated`, async (t) => {
      const store = await open();
      const r = makeRig(store, t.testdir());
      const p = 'p-comp';
      const child = `${p}.stay.1`;
      await r.engine.start({ saga: 'trip', input: {}, id: p, correlationId: 'corr' });
      await r.reply('hotel.events', 'Booked', r.command('Book', child));
      await r.reply('pay.events', 'Declined', r.command('Pay', p));
      await r.reply('hotel.events', 'CannotCancel', r.command('Cancel', child));
      t.same([(await store.getInstance(p))?.status, (await store.getInstance(child))?.status], ['failed', 'failed'], 'the child\'s undo failed, and with it the parent\'s');
      await r.engine.retry(child);
      t.equal((await store.getInstance(child))?.status, 'compensating', 'the child\'s undo is sent again');
      // The operator retries the parent while the child's undo is answered: each input reads the
      // other instance before either writes.
      r.gate.hold(first);
      await Promise.all([r.engine.retry(p), r.reply('hotel.events', 'Cancelled', r.command('Cancel', child))]);
      await r.engine.settled();
      t.same(r.gate.outcomes, ['committed', 'conflict'], 'the second write read the first\'s instance before it changed: a conflict, decided again');
      t.equal((await store.getInstance(child))?.status, 'compensated');
      const parent = await store.getInstance(p);
      t.equal(parent?.status, 'compensated', 'the parent heard its child\'s end');
      t.equal(parent?.steps.stay?.compensation?.status, 'compensated');
    });
  }

  for (const [order, first] of [['the parent\'s retry', isRetry], ['the child\'s reply', isReply]] as const) {
    t.test(`a failure past the pivot retried while a child ends: ${order} committed first; the parent hears the child and completes`, async (t) => {
      const store = await open();
      const r = makeRig(store, t.testdir());
      const p = 'p-hear';
      const stay = `${p}.stay.1`;
      const ride = `${p}.ride.1`;
      await r.engine.start({ saga: 'tour', input: {}, id: p, correlationId: 'corr' });
      await r.reply('pay.events', 'Paid', r.command('Pay', p));
      // An operator cancels one child: its step fails past the pivot, and the parent with it.
      await r.engine.cancel(ride, 'test');
      await r.reply('hotel.events', 'Cancelled', r.command('Cancel', ride));
      t.same([(await store.getInstance(p))?.status, (await store.getInstance(stay))?.status], ['failed', 'running'], 'the parent failed past its pivot; its other child runs');
      // The operator retries the parent (it asks to hear its running child again) while that child's step is answered.
      r.gate.hold(first);
      await Promise.all([r.engine.retry(p), r.reply('hotel.events', 'Booked', r.command('Book', stay))]);
      await r.engine.settled();
      t.same(r.gate.outcomes, ['committed', 'conflict'], 'the second write read the first\'s instance before it changed: a conflict, decided again');
      t.equal((await store.getInstance(stay))?.status, 'completed');
      t.equal((await store.getInstance(p))?.steps.stay?.status, 'succeeded', 'the parent heard its child\'s end');
      await r.reply('hotel.events', 'Booked', r.command('Book', `${p}.ride.2`));
      t.equal((await store.getInstance(p))?.status, 'completed', 'and completes once the step retried has its child\'s end too');
    });
  }
}

onBothStores(scenarios);
