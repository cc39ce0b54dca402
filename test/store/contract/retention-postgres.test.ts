import t from 'tap';
import type { StorePort } from '../../../engine/store/port.js';
import { openPostgresStore } from '../../../engine/store/postgres/index.js';
import { startPostgres } from '../../helpers/postgres.js';
import { retentionContract } from './retention-suite.js';
import { changeOf, committed, decision, reply, started, TestEnv, writeOf } from './writes.js';

const server = await startPostgres();
t.teardown(() => server.stop());

retentionContract(t, {
  name: 'postgres',
  leases: true,
  async fresh() {
    const url = await server.createDatabase();
    return { open: (opts) => openPostgresStore(url, opts) };
  },
});

t.test('replicas running retention at once take disjoint batches: each instance archived once, all deleted', async (t) => {
  const url = await server.createDatabase();
  const ports: StorePort[] = await Promise.all([1, 2, 3].map(() => openPostgresStore(url)));
  t.teardown(() => Promise.all(ports.map((p) => p.close())));
  const [a] = ports;
  if (a === undefined) throw new Error('no port');
  const env = new TestEnv();
  for (let i = 0; i < 60; i++) {
    const s = await started(a, env, `i-${String(i).padStart(2, '0')}`);
    await committed(a, writeOf(env.newId(), changeOf(s.version, decision(env, s, reply(s, 'reserve', 'Nope', env)))));
  }
  const handed: string[] = [];
  let deleted = 0;
  // Each replica's archive is slow (the locks are held meanwhile), so their batches overlap in time.
  await Promise.all(ports.map(async (p) => {
    for (;;) {
      const r = await p.retire(env.now + 1, 7, async (b) => {
        handed.push(...b.map((x) => x.id));
        await new Promise((resolve) => setTimeout(resolve, 30));
      });
      deleted += r.deleted;
      if (r.archived === 0) return;
    }
  }));
  t.equal(handed.length, 60, 'sixty handed over');
  t.equal(new Set(handed).size, 60, 'none twice');
  t.equal(deleted, 60);
  t.same((await a.listInstances()).items, [], 'none left');
});
