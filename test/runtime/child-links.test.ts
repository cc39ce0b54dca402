/**
 * The runtime's links between a parent and its child saga (engine/runtime/linked.ts) and the
 * delay's timer, on both store adapters (a SQLite file and a real PostgreSQL 15), without
 * NATS: the engine's inputs are fed directly and its outbox rows caught as the relay would
 * take them. A child starts in the same write as its parent's decision, once; its end is its
 * parent step's outcome in the same write as its own; a completed child is compensated when
 * the parent compensates; a delay's timer fires once even when two engines (replicas) fire it.
 */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { silentLog } from '../../engine/log.js';
import { findArchived } from '../../engine/archive/reader.js';
import { ArchiveWriter } from '../../engine/archive/writer.js';
import { RetentionService } from '../../engine/runtime/retention.js';
import { openStore } from '../../engine/store/index.js';
import { openPostgresStore } from '../../engine/store/postgres/index.js';
import type { StorePort } from '../../engine/store/port.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { parseEnvelope } from '../../engine/transport/envelope.js';
import { startPostgres } from '../helpers/postgres.js';
import { makeRig, RELOADED, YAML } from './child-links-rig.js';

async function scenarios(t: Test, open: () => Promise<{ store: StorePort; second: () => Promise<StorePort> }>): Promise<void> {
  t.test('a child starts with its parent\'s commit, once, and its end is the step\'s outcome', async (t) => {
    const { store, second } = await open();
    const r = makeRig(store, t.testdir());
    const p = await r.engine.start({ saga: 'parent', input: { x: 1 }, id: 'p-ok', correlationId: 'corr' });
    t.equal(p.created, true);
    await r.reply('Held', r.command('Hold', 'p-ok'));
    t.equal((await store.getInstance('p-ok'))?.steps['wait-a-bit']?.status, 'running', 'the delay waits');
    t.same((await store.timersOf('p-ok')).map((x) => x.timerId).sort(), ['delay:wait-a-bit'], 'on a stored timer');
    t.equal(await store.getInstance('p-ok.kid.1'), undefined, 'no child before the delay ends');

    // Two replicas fire the same due timer: one write takes it, the other is a duplicate.
    const other = makeRig(await second(), t.testdir(), r.sent);
    const row = (await store.timersOf('p-ok'))[0];
    if (row === undefined) throw new Error('no timer');
    await Promise.all([r.engine.fire(row), other.engine.fire(row)]);
    const h = await store.history('p-ok');
    t.equal(h.filter((e) => e.type === 'StepSucceeded' && (e.data as { step?: string }).step === 'wait-a-bit').length, 1, 'the delay ended once');

    const child = await store.getInstance('p-ok.kid.1');
    t.match(child, { saga: 'child', status: 'running', parent: { id: 'p-ok', saga: 'parent', step: 'kid' } }, 'the child started in the same write, linked to its parent');
    await r.reply('Worked', r.command('Work', 'p-ok.kid.1'), { n: 7 });
    t.equal((await store.getInstance('p-ok.kid.1'))?.status, 'completed', 'the child completed');
    const parent = await store.getInstance('p-ok');
    t.equal(parent?.steps.kid?.status, 'succeeded', 'and in the same write its parent\'s step succeeded');
    t.match(parent?.steps.kid?.output, { id: 'p-ok.kid.1', saga: 'child', steps: { work: { n: 7 } } });
    const finish = r.sent.find((x) => x.headers['Saga-Step'] === 'finish');
    t.match(finish === undefined ? null : parseEnvelope(finish.data), { ok: true, envelope: { payload: { got: 7 } } }, 'a later step reads the child\'s results');
    await r.reply('Finished', r.command('Finish', 'p-ok'));
    t.equal((await store.getInstance('p-ok'))?.status, 'completed');
    t.equal((await store.listInstances({ saga: 'child', limit: 10 })).items.length, 1, 'one child in all');
  });

  t.test('a child whose key another instance holds cannot start: the step fails and the parent compensates', async (t) => {
    const { store } = await open();
    const r = makeRig(store, t.testdir());
    await r.engine.start({ saga: 'child', input: { x: 0 }, key: 'k-taken', id: 'someone-else', correlationId: 'corr' });
    await r.engine.start({ saga: 'keyed', input: { k: 'k-taken' }, id: 'p-key', correlationId: 'corr' });
    await r.reply('Held', r.command('Hold', 'p-key'));
    const p = await store.getInstance('p-key');
    t.equal(p?.status, 'compensating', 'the parent compensates');
    t.match(p?.steps.kid?.lastError, /saga child already has instance someone-else for key "k-taken"/, 'with the reason');
    t.equal(await store.getInstance('p-key.kid.1'), undefined, 'no child was started');
  });

  t.test('a child that cannot start while a sibling fails in the same decision did nothing: the parent\'s compensation goes on past it', async (t) => {
    const { store } = await open();
    const r = makeRig(store, t.testdir());
    await r.engine.start({ saga: 'child', input: { x: 0 }, key: 'k-held', id: 'other', correlationId: 'corr' });
    await r.engine.start({ saga: 'fork', input: { k: 'k-held', shipAt: 'next tuesday' }, id: 'p-fork', correlationId: 'corr' });
    await r.reply('Held', r.command('Hold', 'p-fork'));
    const p = await store.getInstance('p-fork');
    t.equal(p?.status, 'compensating', 'the delay\'s bad time failed the stage: the parent compensates, not failed');
    t.match(p?.steps.kid, { outcome: 'unknown', compensation: { status: 'compensated', lastError: null } }, 'the child that never started needs no undo');
    t.equal(await store.getInstance('p-fork.kid.1'), undefined, 'no child was started');
    await r.reply('Unheld', r.command('Unhold', 'p-fork'));
    t.equal((await store.getInstance('p-fork'))?.status, 'compensated', 'the steps before it are undone');
  });

  t.test('the same with the child\'s step behind another in the compensation queue: it leaves the queue, and the rest is undone', async (t) => {
    const { store } = await open();
    const r = makeRig(store, t.testdir());
    await r.engine.start({ saga: 'child', input: { x: 0 }, key: 'k-held-2', id: 'other-2', correlationId: 'corr' });
    await r.engine.start({ saga: 'fork-grab', input: { k: 'k-held-2', shipAt: 'next tuesday' }, id: 'p-grab', correlationId: 'corr' });
    await r.reply('Held', r.command('Hold', 'p-grab'));
    const p = await store.getInstance('p-grab');
    t.equal(p?.status, 'compensating');
    t.same(p?.status === 'compensating' ? p.compensation.queue : null, ['grab', 'hold'], 'the child step left the queue: grab (in flight), then hold');
    t.match(p?.steps.kid?.compensation, { status: 'compensated' }, 'nothing to undo for the child that never started');
    await r.reply('Ungrabbed', r.command('Ungrab', 'p-grab'));
    await r.reply('Unheld', r.command('Unhold', 'p-grab'));
    t.equal((await store.getInstance('p-grab'))?.status, 'compensated', 'not failed: every step that may have taken effect is undone');
  });

  t.test('two children of one parent with one key, from their steps: the second is not started, and the first is compensated with the group', async (t) => {
    const { store } = await open();
    const r = makeRig(store, t.testdir());
    await r.engine.start({ saga: 'twins', input: { k: 'k-twin' }, id: 'p-twins', correlationId: 'corr' });
    const p = await store.getInstance('p-twins');
    t.equal(p?.status, 'compensating', 'the second child\'s step failed the group');
    t.match(p?.steps['kid-b']?.lastError, /saga child already has instance p-twins\.kid-a\.1 for key "k-twin"/, 'as if the first child had been in the store');
    t.equal(await store.getInstance('p-twins.kid-b.1'), undefined, 'no second child');
    t.match(await store.getInstance('p-twins.kid-a.1'), { key: 'k-twin', status: 'compensating' }, 'the first started, and compensates with the group');
    await r.reply('Unworked', r.command('Unwork', 'p-twins.kid-a.1'));
    t.equal((await store.getInstance('p-twins'))?.status, 'compensated');
  });

  t.test('two children of one parent with one key, from the child\'s start.key: the same', async (t) => {
    const { store } = await open();
    const r = makeRig(store, t.testdir());
    await r.engine.start({ saga: 'twins-by-start', input: { k: 'k-begun' }, id: 'p-begun', correlationId: 'corr' });
    const p = await store.getInstance('p-begun');
    t.equal(p?.status, 'compensating');
    t.match(p?.steps['kid-b']?.lastError, /saga begun already has instance p-begun\.kid-a\.1 for key "k-begun"/);
    t.equal(await store.getInstance('p-begun.kid-b.1'), undefined, 'no second child');
    t.equal((await store.listInstances({ saga: 'begun', limit: 10 })).items.length, 1, 'one child of the key');
  });

  t.test('two parents starting a child of one key in one write, and a trigger of that key in the same write: one instance of the key', async (t) => {
    const { store } = await open();
    const r = makeRig(store, t.testdir());
    for (const id of ['p-one', 'p-two']) await r.engine.start({ saga: 'on-begin', input: { k: 'k-shared' }, id, correlationId: 'corr' });
    t.equal(await r.event('Begin', { k: 'k-other' }), 'trigger', 'both parents take the event, which starts an instance of key k-other too');
    const kids = (await store.listInstances({ saga: 'begun', limit: 10 })).items.map((i) => i.key).sort();
    t.same(kids, ['k-other', 'k-shared'], 'one child of the parents\' key');
    const [one, two] = await Promise.all(['p-one', 'p-two'].map((id) => store.getInstance(id)));
    t.same([one?.steps.kid?.status, two?.steps.kid?.status].sort(), ['failed', 'running'], 'one parent has the child, the other\'s step failed');
    t.match([one, two].find((p) => p?.steps.kid?.status === 'failed')?.steps.kid?.lastError, /saga begun already has instance p-(one|two)\.kid\.1 for key "k-shared"/);

    await r.engine.start({ saga: 'on-begin', input: { k: 'k-trig' }, id: 'p-three', correlationId: 'corr' });
    t.equal(await r.event('Begin', { k: 'k-trig' }), 'trigger', 'the event starts an instance of k-trig, and p-three its child of k-trig');
    const three = await store.getInstance('p-three');
    t.match(three?.steps.kid, { status: 'failed', lastError: /saga begun already has instance .* for key "k-trig"/ }, 'the trigger\'s instance holds the key');
    t.equal((await store.listInstances({ saga: 'begun', limit: 10 })).items.filter((i) => i.key === 'k-trig').length, 1);
  });

  t.test('two waits of a parent and its child\'s wait take one event: one change of the parent, the child\'s end in it', async (t) => {
    const { store } = await open();
    // The most changes of one instance a write held: an adapter checks each against the version it read before the write.
    let most = 0;
    const commit: StorePort['commit'] = (w) => {
      for (const c of w.changes) most = Math.max(most, w.changes.filter((x) => x.state.id === c.state.id).length);
      return store.commit(w);
    };
    const r = makeRig({ ...store, commit }, t.testdir());
    await r.engine.start({ saga: 'waits-and-kid', input: {}, id: 'p-waits', correlationId: 'corr' });
    t.equal((await store.waiting('e.events', 'E', 'corr')).length, 3, 'w1, w2 and the child\'s wait');
    t.equal(await r.event('E'), 'event');
    t.equal(most, 1, 'no write held two changes of one instance');
    t.equal((await store.getInstance('p-waits.kid.1'))?.status, 'completed');
    const p = await store.getInstance('p-waits');
    t.match(p, { status: 'completed', steps: { w1: { status: 'succeeded' }, w2: { status: 'succeeded' }, kid: { status: 'succeeded' } } });
    t.equal(p?.version, (await store.history('p-waits')).length, 'each event journaled once');
  });

  t.test('a child given a pivot by a reload is not started by a step that may have to be compensated: the step fails, the parent compensates', async (t) => {
    const { store, second } = await open();
    const r = makeRig(store, t.testdir());
    await r.engine.rememberDefinitions();
    await r.engine.start({ saga: 'keyed', input: { k: 'k-pivot' }, id: 'p-pivot', correlationId: 'corr' });
    // The file is reloaded (a second engine on the same store stands in for it): the running
    // parent keeps its definition, whose step \`kid\` is before any pivot.
    const after = makeRig(await second(), t.testdir(), r.sent, RELOADED);
    await after.reply('Held', r.command('Hold', 'p-pivot'));
    // Read through the second store: the first's SQLite instance cache has not seen its write.
    const p = await after.store.getInstance('p-pivot');
    t.equal(p?.status, 'compensating', 'the parent compensates instead of waiting on a child it could not undo');
    t.match(p?.steps.kid?.lastError, /child saga child as loaded now has the pivot work .*step kid of this instance may have to be compensated; it was not started/);
    t.equal(await after.store.getInstance('p-pivot.kid.1'), undefined, 'no child was started');
    // A parent started on the reloaded file has its step past its pivot: the child starts.
    await after.engine.start({ saga: 'keyed', input: { k: 'k-new' }, id: 'p-new', correlationId: 'corr' });
    await after.reply('Held', after.command('Hold', 'p-new'));
    t.match(await after.store.getInstance('p-new.kid.1'), { saga: 'child', status: 'running', parent: { id: 'p-new' } });
  });

  t.test('retention keeps a finished child while its parent may still compensate it, and takes both once the parent has ended', async (t) => {
    const { store } = await open();
    const r = makeRig(store, t.testdir());
    await r.engine.start({ saga: 'parent', input: { x: 3 }, id: 'p-kept', correlationId: 'corr' });
    await r.reply('Held', r.command('Hold', 'p-kept'));
    await r.fireDue(Date.now() + 10_000);
    await r.reply('Worked', r.command('Work', 'p-kept.kid.1'), { n: 1 });
    t.equal((await store.getInstance('p-kept.kid.1'))?.status, 'completed');
    const retire = () => store.retire(Date.now() + 60_000, 100, async () => undefined);
    t.match(await retire(), { archived: 0, deleted: 0, next: null }, 'the completed child stays while its parent runs');
    await r.reply('NotFinished', r.command('Finish', 'p-kept'));
    t.equal((await store.getInstance('p-kept.kid.1'))?.status, 'compensating', 'so the parent\'s compensation reaches it');
    await r.reply('Unworked', r.command('Unwork', 'p-kept.kid.1'));
    t.equal((await store.getInstance('p-kept.kid.1'))?.status, 'compensated');
    t.match(await retire(), { archived: 0, deleted: 0 }, 'compensated, it stays while its parent compensates');
    await r.reply('Unheld', r.command('Unhold', 'p-kept'));
    t.equal((await store.getInstance('p-kept'))?.status, 'compensated');
    t.match(await retire(), { archived: 2, deleted: 2 }, 'the parent has ended: both go');
  });

  t.test('retention keeps a grandchild while its grandparent runs, though its parent has ended; a pass reads past the kept ones', async (t) => {
    const { store } = await open();
    const r = makeRig(store, t.testdir());
    await r.engine.start({ saga: 'outer', input: {}, id: 'o-1', correlationId: 'corr' });
    await r.reply('Worked', r.command('Work', 'o-1.mid.1.inner.1'), { n: 1 });
    t.same(await Promise.all(['o-1.mid.1.inner.1', 'o-1.mid.1', 'o-1'].map(async (id) => (await store.getInstance(id))?.status)),
      ['completed', 'completed', 'running'], 'grandchild and child completed, the outer saga waits for Finish');
    // A root finished after them: a pass in batches of one reads past the two kept ones to it.
    await r.engine.start({ saga: 'child', input: { x: 9 }, id: 'later', correlationId: 'corr' });
    await r.reply('Worked', r.command('Work', 'later'), { n: 1 });
    const archived = join(r.dir, 'archive');
    const archive = new ArchiveWriter({ dir: archived, definition: async () => ({ name: 'any', source: YAML }) });
    const service = new RetentionService(store, {
      retentionMs: 1, dlqRetentionMs: null, intervalMs: 60_000, batch: 1, archive, log: silentLog, now: () => Date.now() + 60_000,
    });
    t.teardown(() => service.stop());
    t.match(await service.pass(), { archived: 1, deleted: 1, batches: 4 },
      'in batches of one, the pass read past the child and grandchild of the running saga to the root that has ended (and found nothing more)');
    t.equal(await store.getInstance('later'), undefined, 'which went');
    t.ok(await findArchived(archived, 'later'), 'to the archive');
    t.ok(await store.getInstance('o-1.mid.1.inner.1'), 'the grandchild is there when the outer saga compensates');
    await r.reply('NotFinished', r.command('Finish', 'o-1'));
    t.equal((await store.getInstance('o-1.mid.1.inner.1'))?.status, 'compensating', 'the compensation reaches the grandchild');
    await r.reply('Unworked', r.command('Unwork', 'o-1.mid.1.inner.1'));
    t.same(await Promise.all(['o-1.mid.1.inner.1', 'o-1.mid.1', 'o-1'].map(async (id) => (await store.getInstance(id))?.status)),
      ['compensated', 'compensated', 'compensated'], 'and its end reaches the outer saga');
    t.match(await store.retire(Date.now() + 60_000, 100, async () => undefined), { archived: 3, deleted: 3, next: null }, 'all three go now');
  });

  t.test('a failing later step compensates the completed child, then the parent\'s own steps', async (t) => {
    const { store } = await open();
    const r = makeRig(store, t.testdir());
    await r.engine.start({ saga: 'parent', input: { x: 2 }, id: 'p-undo', correlationId: 'corr' });
    await r.reply('Held', r.command('Hold', 'p-undo'));
    await r.fireDue(Date.now() + 10_000);
    await r.reply('Worked', r.command('Work', 'p-undo.kid.1'), { n: 1 });
    await r.reply('NotFinished', r.command('Finish', 'p-undo'));
    t.equal((await store.getInstance('p-undo'))?.status, 'compensating');
    t.equal((await store.getInstance('p-undo.kid.1'))?.status, 'compensating', 'the completed child compensates, in the parent\'s write');
    await r.reply('Unworked', r.command('Unwork', 'p-undo.kid.1'));
    t.equal((await store.getInstance('p-undo.kid.1'))?.status, 'compensated');
    t.equal((await store.getInstance('p-undo'))?.steps.kid?.compensation?.status, 'compensated', 'its end is the parent\'s compensation of the step');
    await r.reply('Unheld', r.command('Unhold', 'p-undo'));
    t.equal((await store.getInstance('p-undo'))?.status, 'compensated');
    const order = r.sent.filter((x) => x.subject.endsWith('.commands')).map((x) => (parseEnvelope(x.data) as { envelope: { eventType: string } }).envelope.eventType);
    t.same(order, ['Hold', 'Work', 'Finish', 'Unwork', 'Unhold'], 'the child is undone before the parent\'s earlier step');
  });
}

t.test('sqlite', async (t) => {
  await scenarios(t, async () => {
    const file = join(t.testdir(), `s-${Math.random().toString(36).slice(2)}.db`);
    const store = openStore(file);
    t.teardown(() => store.close());
    return {
      store: sqlitePort(store),
      second: async () => {
        const s2 = openStore(file);
        t.teardown(() => s2.close());
        return sqlitePort(s2);
      },
    };
  });
});

t.test('postgres', async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.stop());
  await scenarios(t, async () => {
    const url = await server.createDatabase();
    const store = await openPostgresStore(url);
    t.teardown(() => store.close());
    return {
      store,
      second: async () => {
        const s2 = await openPostgresStore(url);
        t.teardown(() => s2.close());
        return s2;
      },
    };
  });
});
