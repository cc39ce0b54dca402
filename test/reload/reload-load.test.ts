/**
 * A reload while many instances run (issue 11: 10,000): every instance started before it
 * waits at its second step; the reload adds a third step while their replies and new
 * trigger events are arriving. No input may be lost (every instance completes, nothing is
 * dead-lettered) and no instance may change definition (the old ones never run the new step,
 * and keep their hash). RELOAD_INSTANCES sets the count (default 300 here; the 10,000 run is
 * `RELOAD_INSTANCES=10000 npx tap test/reload/reload-load.test.ts --timeout 1800`, see
 * docs/reload.md).
 */
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../engine/config.js';
import { loadDefinitionsFile } from '../../engine/definitions/index.js';
import { silentLog } from '../../engine/log.js';
import { startSagad } from '../../engine/main.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { waitFor } from '../helpers/sagad.js';
import { publishBegin, startParticipant, type SeenCommand } from '../tracing/world.js';
import { sagaYaml, writeDefinitions } from './defs.js';

const N = Number(process.env.RELOAD_INSTANCES ?? 300);
const DURING = Math.max(10, Math.round(N / 10));
const patience = 60_000 + N * 30;

/** Runs `fn` over `items`, `width` at a time. */
async function inChunks<T>(items: readonly T[], width: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

t.test(`a reload with ${N} running instances: no input lost, no instance changes definition`, async (t) => {
  const dir = t.testdir();
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const old = (c: SeenCommand) => String(c.envelope.payload.order).startsWith('old-');
  const participant = await startParticipant(nats.url, (c) => (c.envelope.eventType === 'Do_s2' && old(c) ? null : { type: c.envelope.eventType.replace('Do_', 'Done_') }), undefined, ['bk']);
  t.teardown(() => participant.stop());
  const file = writeDefinitions(dir, 'bulk.yaml', [sagaYaml('bulk', 'bk', ['s1', 's2'])]);
  const defs = loadDefinitionsFile(file);
  if (!defs.ok) throw new Error('invalid');
  const config = loadConfig({ SAGA_DEFINITIONS: file, SAGA_DB: join(dir, 'sagad.db'), NATS_URL: nats.url, SAGA_HTTP_PORT: '0' });
  const server = await startSagad(config, defs.sagas, silentLog);
  t.teardown(() => server.stop());
  const v1 = defs.sagas[0]?.hash ?? '';

  const began = Date.now();
  await inChunks(Array.from({ length: N }, (_, i) => `old-${i}`), 200, (o) => publishBegin(participant.link, o, {}, 'bk'));
  const held = await waitFor(() => {
    const h = participant.seen.filter((c) => c.envelope.eventType === 'Do_s2' && old(c));
    return new Set(h.map((c) => c.headers['Saga-Id'])).size === N ? h : null;
  }, patience, { what: `${N} instances waiting at s2` });
  t.comment(`${N} instances running, all waiting at s2, after ${((Date.now() - began) / 1000).toFixed(1)} s`);

  // The reload, while the held replies and new triggers arrive.
  writeDefinitions(dir, 'bulk.yaml', [sagaYaml('bulk', 'bk', ['s1', 's2', 's3'])]);
  const replies = inChunks(held, 200, (c) => participant.answer(c, 'Done_s2'));
  const during = inChunks(Array.from({ length: DURING }, (_, i) => `mid-${i}`), 50, (o) => publishBegin(participant.link, o, {}, 'bk'));
  const reloadAt = Date.now();
  const outcome = await server.reload({ via: 'http' });
  t.comment(`reload took ${Date.now() - reloadAt} ms`);
  await Promise.all([replies, during]);
  t.ok(outcome.ok, 'the reload succeeded');
  const v2 = server.engine.definitions().find((d) => d.name === 'bulk')?.hash ?? '';
  t.not(v2, v1);
  await inChunks(Array.from({ length: DURING }, (_, i) => `new-${i}`), 50, (o) => publishBegin(participant.link, o, {}, 'bk'));

  const total = N + 2 * DURING;
  await waitFor(async () => {
    const s = await server.engine.stats();
    return s.instances.find((r) => r.saga === 'bulk' && r.state === 'completed')?.count === total;
  }, patience, { what: `all ${total} instances completed` });
  t.comment(`all ${total} completed after ${((Date.now() - began) / 1000).toFixed(1)} s`);
  const stats = await server.engine.stats();
  t.same(stats.instances, [{ saga: 'bulk', state: 'completed', count: total }], 'every instance completed: no start and no reply was lost');
  t.equal(stats.deadLetters, 0, 'nothing was dead-lettered');

  const stepsOf = new Map<string, string[]>();
  for (const c of participant.seen) {
    const id = c.headers['Saga-Id'] ?? '';
    stepsOf.set(id, [...(stepsOf.get(id) ?? []), c.envelope.eventType]);
  }
  let changed = 0;
  let wrongSteps = 0;
  const byKind = { old: { v1: 0, v2: 0 }, mid: { v1: 0, v2: 0 }, new: { v1: 0, v2: 0 } };
  let cursor: string | undefined;
  do {
    const page = await server.engine.listInstances({ saga: 'bulk', limit: 500, cursor });
    for (const item of page.items) {
      const state = await server.engine.getInstance(item.id);
      if (state === undefined) continue;
      const kind = String(state.key).split('-')[0] as 'old' | 'mid' | 'new';
      const version = state.definitionHash === v1 ? 'v1' : 'v2';
      byKind[kind][version] += 1;
      if (kind === 'old' && version !== 'v1') changed += 1;
      if (kind === 'new' && version !== 'v2') changed += 1;
      const ran = (stepsOf.get(state.id) ?? []).filter((s) => s === 'Do_s3').length;
      if (ran !== (version === 'v2' ? 1 : 0)) wrongSteps += 1;
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  t.comment(`by start: ${JSON.stringify(byKind)}`);
  t.same(byKind.old, { v1: N, v2: 0 }, 'every instance started before the reload kept the old definition');
  t.same(byKind.new, { v1: 0, v2: DURING }, 'every instance started after it has the new one');
  t.equal(byKind.mid.v1 + byKind.mid.v2, DURING, 'those started during the reload have one or the other');
  t.equal(changed, 0);
  t.equal(wrongSteps, 0, 'each instance ran exactly the steps of its own definition (s3 only in the new one)');
});
