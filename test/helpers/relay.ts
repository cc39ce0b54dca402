export { until } from './until.js';
import type { Publisher } from '../../engine/runtime/outbox-relay.js';
import type { OutboxMessage, Store } from '../../engine/store/index.js';
import type { PublishItem } from '../../engine/transport/publish.js';

/**
 * The relay against a real SQLite outbox. The publisher is the relay's seam to JetStream
 * (the end-to-end tests run it against nats-server); here it records what it was given and
 * can refuse messages, as JetStream does when it is unavailable.
 */
export function recorder(refuse: (item: PublishItem, attempt: number) => boolean = () => false) {
  const published: string[] = [];
  const items: PublishItem[] = [];
  const attempts = new Map<string, number>();
  const publish: Publisher = async (batch) => batch.map((it) => {
    items.push(it);
    const n = (attempts.get(it.msgId) ?? 0) + 1;
    attempts.set(it.msgId, n);
    if (refuse(it, n)) return { ok: false as const, error: new Error(`refused ${it.msgId}`) };
    published.push(it.msgId);
    return { ok: true as const, ack: { stream: 'S', seq: published.length, duplicate: false, domain: '' } };
  });
  return { published, items, attempts, publish };
}

export const msg = (id: string): OutboxMessage => ({ messageId: id, subject: 'a.commands', headers: { 'Saga-Id': 's' }, data: new Uint8Array([1, 2, 3]) });


/** The store, counting how often the relay reads the table. */
export function counted(store: Store) {
  const c = { reads: 0 };
  return {
    c,
    source: {
      claimUnsent: async (n: number, before: number) => { c.reads++; return store.unsent(n, before); },
      unsentBySeq: async (s: readonly number[]) => store.unsentBySeq(s),
      markSent: async (s: readonly number[], at: number) => store.markSent(s, at),
    },
  };
}
