import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { openStore, StoreErrorCode, type Upcasters } from '../../engine/store/index.js';
import { journalUpcasters } from '../../engine/store/upcast.js';

/**
 * A journal written in an older format is read through upcasters (docs/journal.md): a real
 * SQLite file whose rows are written by hand, as an older build left them (StepSucceeded and
 * StepDispatched of version 0: a `result` instead of `output`, no `pivot`, `timeout` instead
 * of `timeoutAt`), and no instance row at all. `rebuildInstance` brings the row back from the
 * journal through the upcasters; a second run changes nothing.
 */
const upcasters: Upcasters = {
  StepSucceeded: { 0: ({ result, ...rest }) => ({ ...rest, output: result, pivot: false }) },
  StepDispatched: { 0: ({ timeout, ...rest }) => ({ ...rest, timeoutAt: timeout }) },
};

t.test('an older journal, written by hand, is read with upcasters and rebuilt into its instance row', async (t) => {
  const file = join(t.testdir(), 'old.db');
  openStore(file).close();
  const db = new Database(file);
  const insert = db.prepare('INSERT INTO journal (instance_id, seq, type, type_version, at, data) VALUES (?, ?, ?, ?, ?, ?)');
  const rows: [number, string, number, Record<string, unknown>][] = [
    [1, 'SagaStarted', 1, { type: 'SagaStarted', at: 100, instanceId: 'old-1', saga: 'order', definitionHash: 'h-old', key: 'k-1', correlationId: 'c-1', input: { n: 1 }, event: null, deadlineAt: null }],
    [2, 'StepDispatched', 0, { type: 'StepDispatched', at: 100, step: 'reserve', attempt: 1, commandId: 'cmd-1', timeout: 1100 }],
    [3, 'StepSucceeded', 0, { type: 'StepSucceeded', at: 200, step: 'reserve', replyId: 'r-1', result: { reservationId: 'res-1' } }],
  ];
  for (const [seq, type, version, data] of rows) insert.run('old-1', seq, type, version, data.at, JSON.stringify(data));
  db.close();

  t.same(journalUpcasters, {}, 'no upcaster is registered while every event type is at its first version');
  const plain = openStore(file);
  t.throws(() => plain.rebuildInstance('old-1'), { code: StoreErrorCode.UnreadableEvent, message: /no upcaster for journal event StepDispatched@0/ },
    'without the upcasters the older rows cannot be read, and nothing is written');
  t.equal(plain.getInstance('old-1'), undefined);
  plain.close();

  const store = openStore(file, { upcasters });
  t.teardown(() => store.close());
  t.same(store.history('old-1').map((e) => [e.type, e.version]), [['SagaStarted', 1], ['StepDispatched', 0], ['StepSucceeded', 0]], 'history shows the rows as stored');
  const report = store.rebuildInstance('old-1');
  t.match(report, { id: 'old-1', changed: true, differences: [{ path: 'row', stored: null, rebuilt: /^running instance at version 3; its pending timers and waits are not in the journal and were not rebuilt/ }] },
    'the missing row is reported and written, and that its timers could not be');
  const state = store.getInstance('old-1');
  t.match(state, { id: 'old-1', saga: 'order', definitionHash: 'h-old', key: 'k-1', status: 'running', version: 3 });
  t.same(state?.steps['reserve']?.output, { reservationId: 'res-1' }, 'the old `result` read as `output`');
  t.equal(state?.steps['reserve']?.status, 'succeeded');
  t.same(store.listInstances({}).items.map((i) => i.id), ['old-1'], 'the instance is listed again');
  t.same(store.rebuildInstance('old-1'), { id: 'old-1', changed: false, differences: [] }, 'a second run changes nothing');
});
