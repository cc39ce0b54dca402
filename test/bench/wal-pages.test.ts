import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { formatWalPages, pageOwners, walCommits, walPages } from '../../bench/wal-pages.js';

t.test('walCommits reads the page numbers of each commit, and stops at a frame of an earlier generation', async (t) => {
  const file = join(t.testdir(), 'w.db');
  const db = new Database(file);
  t.teardown(() => db.close());
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT); CREATE INDEX things_name ON things (name)');
  db.pragma('wal_checkpoint(TRUNCATE)');
  // A reader whose snapshot needs the WAL keeps it from being started over.
  db.exec("INSERT INTO things (name) VALUES ('first')");
  const reader = new Database(file);
  t.teardown(() => reader.close());
  reader.exec('BEGIN');
  reader.prepare('SELECT count(*) FROM things').get();
  db.exec("INSERT INTO things (name) VALUES ('second')");
  db.exec("INSERT INTO things (name) VALUES ('third')");

  const wal = readFileSync(`${file}-wal`);
  const commits = walCommits(wal);
  t.equal(commits.length, 3, 'one commit per insert');
  const owners = pageOwners(db);
  for (const c of commits.slice(1)) {
    t.same(c.map((p) => owners.get(p)).sort(), ['things', 'things_name'], 'an insert writes the table\'s page and its index\'s');
  }

  // The last frame's salt changed: as if it were left from before a checkpoint restarted the file.
  const pageSize = wal.readUInt32BE(8);
  const last = wal.length - (24 + pageSize);
  const stale = Buffer.from(wal);
  stale.writeUInt32BE((stale.readUInt32BE(last + 8) + 1) >>> 0, last + 8);
  const cut = walCommits(stale);
  t.equal(cut.length, 2, 'the commit whose frame is stale is not counted');
  t.same(walCommits(Buffer.alloc(10)), [], 'no header, no commits');
});

t.test('walPages: the example saga at concurrency 1, each input a commit of its own; commands are one B-tree', async (t) => {
  const r = await walPages(20, 1);
  t.equal(r.sagas, 20);
  t.ok(r.commits >= 4 * 20, `every input commits alone (${r.commits} commits)`);
  t.ok(r.frames >= r.commits, 'every commit writes a frame at least');
  const names = r.byTree.map((x) => x.name);
  for (const tree of ['journal', 'instances', 'inbox', 'outbox', 'commands']) t.ok(names.includes(tree), `${tree} is written`);
  t.notOk(names.includes('commands_instance'), 'no index of commands by instance (migration 12)');
  t.notOk(names.includes('bench_wal_mark'), 'the marker commit before the run is not counted');
  t.same([...r.byTree].sort((a, b) => b.perSaga - a.perSaga), r.byTree, 'most written first');
  t.equal(Math.round(r.byTree.reduce((n, x) => n + x.perSaga, 0) * r.sagas), r.frames, 'the trees\' frames add up to the total');
  // Counted from the file's size instead of its frames: the walk missed no commit, and the
  // run left no frame outside one (every input's write committed).
  t.equal(r.frames * (24 + r.pageSize), r.walBytes, 'the frames counted are all the run appended to the WAL');
  t.match(formatWalPages(r, 1), /concurrency 1, outbox marked every 100 ms, 20 sagas: \d+ commits, \d+ WAL frames/);

  // Marked at once, every row read is deleted in a commit of its own: about twice the commits.
  const eager = await walPages(20, 1, 0);
  t.ok(eager.commits >= 2 * 4 * 20 - 1, `a mark commit after every input's (${eager.commits} commits)`);
  t.ok(r.commits < eager.commits, `fewer commits when marked every 100 ms (${r.commits})`);
});
