import type { Test } from 'tap';
import { waitFor } from '../helpers/sagad.js';
import type { InstanceDoc } from './api-client.js';
import { pool } from './harness.js';
import type { World } from './harness.js';
import { sagaViolations } from './invariants.js';

/** The instances the API lists, by id. */
export async function listed(w: World): Promise<Map<string, { key: string | null; state: string }>> {
  return new Map((await w.api.list()).map((i) => [i.id, { key: i.key, state: i.state }]));
}

/**
 * After a load test: every accepted start exists (API starts by id, trigger starts by key),
 * nothing else exists, none is left running, and every instance keeps the saga guarantee
 * against the participant's ledger. Returns the documents by id.
 */
export async function checkAll(
  t: Test, w: World, accepted: { ids: readonly string[]; keys: readonly string[] }, context: Record<string, unknown> = {},
): Promise<Map<string, InstanceDoc>> {
  const all = await listed(w);
  const missingIds = accepted.ids.filter((id) => !all.has(id));
  t.same(missingIds, [], 'every start the API accepted has its instance');
  const byKey = new Map<string, number>();
  for (const i of all.values()) if (i.key !== null) byKey.set(i.key, (byKey.get(i.key) ?? 0) + 1);
  t.same(accepted.keys.filter((k) => byKey.get(k) !== 1), [], 'every trigger event started exactly one instance');
  t.equal(all.size, accepted.ids.length + accepted.keys.length, 'no other instance exists');
  const stuck = [...all].filter(([, i]) => i.state !== 'completed' && i.state !== 'compensated');
  t.same(stuck, [], 'every instance ended completed or compensated', w.diag(context));

  await waitFor(async () => (await w.api.metric('sagad_outbox_backlog')) === 0 && (await w.participantIdle()), 20_000, { what: 'the outbox and the participant to drain' })
    .catch(() => undefined);
  const ledger = w.ledger();
  const received = new Set(w.received().map((r) => r.commandId));
  const docs = new Map<string, InstanceDoc>();
  const problems: Record<string, string[]> = {};
  await pool([...all.keys()], 8, async (id) => {
    const [doc, history] = await Promise.all([w.api.instance(id), w.api.history(id)]);
    docs.set(id, doc);
    const p = sagaViolations(doc, history, ledger, { received });
    if (p.length > 0) problems[`${id} (${doc.key})`] = p;
  });
  t.same(problems, {}, 'the saga guarantee holds for every instance (ledger and journal)', w.diag(context));
  t.equal(await w.api.metric('sagad_outbox_backlog'), 0, 'nothing left in the outbox');
  t.equal(await w.api.metric('sagad_timers_pending'), 0, 'no timer left behind by an ended instance');
  const strangers = [...new Set(ledger.map((e) => e.sagaId))].filter((id) => !all.has(id));
  t.same(strangers, [], 'the participant only ever worked for instances that exist');
  return docs;
}
