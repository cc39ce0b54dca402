import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { ArchivedInstance } from '../../engine/archive/format.js';
import { archiveFiles, readArchiveFile } from '../../engine/archive/reader.js';
import { ArchiveWriter } from '../../engine/archive/writer.js';
import { sqlitePort } from '../../engine/store/sqlite-port.js';
import { schemaVersion } from '../../engine/store/migrations.js';
import { cli } from './helpers.js';
import { Fixture, fillScenarios } from './fixture.js';

/** A database with every scenario, whose finished instances are then archived and deleted. */
async function archived(dir: string) {
  const file = join(dir, 'sagad.db');
  const archiveDir = join(dir, 'archive');
  const f = new Fixture(file);
  fillScenarios(f);
  const now = f.now;
  const before: Record<string, { describe: string; history: string; json: string }> = {};
  for (const id of ['ord-completed', 'ord-compensated']) {
    before[id] = {
      describe: (await cli(['describe', id, '--db', file], { now, columns: 120 })).out,
      history: (await cli(['history', id, '--db', file], { now, columns: 120 })).out,
      json: (await cli(['describe', id, '--db', file, '-o', 'json'], { now })).out,
    };
  }
  const port = sqlitePort(f.store);
  const writer = new ArchiveWriter({
    dir: archiveDir,
    definition: async (hash) => {
      const source = f.store.getDefinitionSource(hash);
      const name = f.store.listDefinitions().find((d) => d.hash === hash)?.name;
      return source === undefined || name === undefined ? undefined : { name, source };
    },
  });
  // Everything finished a minute before the last instance started.
  const r = await port.retire(now - 60_000, 100, async (b) => {
    await writer.append(b);
  });
  await writer.close();
  await port.close();
  return { file, archiveDir, now, before, r };
}

t.test('archive list, archive show, describe and history --archive read what retention archived, as they read it live', async (t) => {
  const { file, archiveDir, now, before, r } = await archived(t.testdir());
  t.match(r, { archived: 2, deleted: 2 }, 'completed and compensated retired; failed and running stay');

  const gone = await cli(['describe', 'ord-completed', '--db', file], { now });
  t.equal(gone.code, 1, 'no longer in the database');

  for (const id of ['ord-completed', 'ord-compensated']) {
    const d = await cli(['describe', id, '--archive', archiveDir], { now, columns: 120 });
    t.equal(d.code, 0, d.err);
    t.equal(d.out, before[id]?.describe, `describe ${id} --archive prints what describe --db printed before`);
    const h = await cli(['history', id, '--archive', archiveDir], { now, columns: 120 });
    t.equal(h.out, before[id]?.history, `history ${id} --archive too`);
    const j = await cli(['archive', 'show', id, '--dir', archiveDir, '-o', 'json'], { now });
    t.same((JSON.parse(j.out) as { instance: unknown }).instance, JSON.parse(before[id]?.json ?? 'null'), 'archive show -o json: the instance document');
  }
  const show = await cli(['archive', 'show', 'ord-compensated'], { now, columns: 120, env: { SAGA_ARCHIVE_DIR: archiveDir } });
  t.match(show.out, /charge-payment[\s\S]*History:[\s\S]*PaymentDeclined|History:[\s\S]*StepFailed/, 'archive show: the instance and its history (SAGA_ARCHIVE_DIR)');

  const list = await cli(['archive', 'list', '--dir', archiveDir, '-o', 'json'], { now });
  const docs = JSON.parse(list.out) as { items: { id: string; state: string; file: string }[]; total: number };
  t.same(docs.items.map((i) => [i.id, i.state]), [['ord-compensated', 'compensated'], ['ord-completed', 'completed']], 'newest first');
  t.equal(docs.total, 2);
  t.match(docs.items[0]?.file, /sagad-archive-.*\.ndjson\.gz$/);
  const table = await cli(['archive', 'list', '--dir', archiveDir, '--state', 'completed'], { now, columns: 120 });
  t.match(table.out, /ord-completed/);
  t.notMatch(table.out, /ord-compensated/, '--state filters');
  const limited = await cli(['archive', 'list', '--dir', archiveDir, '--limit', '1'], { now, columns: 120 });
  t.match(limited.err, /Showing the newest 1 of 2/);
});

t.test('an id two archived instances had, and a damaged archive file: the reading commands warn on stderr', async (t) => {
  const { archiveDir, now } = await archived(t.testdir());
  const [file] = await archiveFiles(archiveDir);
  let first: ArchivedInstance | undefined;
  for await (const l of readArchiveFile(file ?? '')) if (l.kind === 'instance' && l.instance.id === 'ord-completed') first = l;
  if (first === undefined) throw new Error('ord-completed is not archived');
  // A later instance with the same id (started after the first was retired), archived in a file of its own.
  const later = { ...first.instance, createdAt: first.instance.createdAt + 1_000 };
  const w = new ArchiveWriter({ dir: archiveDir, definition: async () => undefined, now: () => now + 3_600_000 });
  await w.append([{ id: later.id, version: later.version, definitionHash: later.definitionHash,
    json: { state: JSON.stringify(later), journal: JSON.stringify(first.journal), timers: '[]' } }]);
  await w.close();
  const shown = await cli(['archive', 'show', 'ord-completed', '--dir', archiveDir, '-o', 'json'], { now });
  t.equal(shown.code, 0, shown.err);
  t.equal((JSON.parse(shown.out) as { instance: { createdAt: string } }).instance.createdAt, new Date(later.createdAt).toISOString(), 'the one created last');
  t.match(shown.err, /^warning: 1 other archived instance had the id ord-completed .* this is the one created last/);
  // The first file damaged in its middle: describe --archive says so instead of answering as if nothing were there.
  const bytes = readFileSync(file ?? '');
  const at = Math.floor(bytes.length / 2);
  bytes[at] = (bytes[at] ?? 0) ^ 0xff;
  writeFileSync(file ?? '', bytes);
  const d = await cli(['describe', 'ord-compensated', '--archive', archiveDir], { now });
  t.match(d.err, /warning: .*sagad-archive-.*byte \d+: /, 'the damage is reported');
});

t.test('archive mistakes are sentences with hints and exit codes', async (t) => {
  const { archiveDir, file, now } = await archived(t.testdir());
  const missing = await cli(['describe', 'nope', '--archive', archiveDir], { now });
  t.equal(missing.code, 1);
  t.match(missing.err, /^sagactl: no instance nope in archive .*\nHint: `sagactl archive list --dir/);
  const both = await cli(['describe', 'ord-completed', '--archive', archiveDir, '--db', file], { now });
  t.equal(both.code, 2, 'usage error');
  t.match(both.err, /--db and --archive are two places to read from/);
  const noDir = await cli(['archive', 'list', '--dir', join(archiveDir, 'nope')], { now });
  t.equal(noDir.code, 1);
  t.match(noDir.err, /the archive directory .* does not exist/);
  const help = await cli(['archive', '--help']);
  t.match(help.out, /list[\s\S]*show[\s\S]*Examples:[\s\S]*archived twice/, '--help explains');
});

t.test('admin backup: a checked copy that reads like the original; refusals for an existing file and for PostgreSQL', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'sagad.db');
  const f = new Fixture(file);
  fillScenarios(f);
  const now = f.now;
  const copy = join(dir, 'backup.db');
  const r = await cli(['admin', 'backup', copy, '--db', file], { now });
  t.equal(r.code, 0, r.err);
  t.match(r.out, new RegExp(`^Backed up ${file} to ${copy}: 10 instances, [0-9.]+ MB, schema version ${schemaVersion}, in [0-9.]+ s\\.\\n$`));
  const original = await cli(['list', '--db', file, '-o', 'json'], { now });
  const copied = await cli(['list', '--db', copy, '-o', 'json'], { now });
  t.same(JSON.parse(copied.out), JSON.parse(original.out), 'the copy lists the same instances');
  const d1 = await cli(['describe', 'ord-busy', '--db', copy, '-o', 'json'], { now });
  const d2 = await cli(['describe', 'ord-busy', '--db', file, '-o', 'json'], { now });
  t.equal(d1.out, d2.out, 'with the same documents and timers');
  f.close();

  const again = await cli(['admin', 'backup', copy, '--db', file], { now });
  t.equal(again.code, 2);
  t.match(again.err, /exists already; a backup never overwrites a file/);
  const pg = await cli(['admin', 'backup', join(dir, 'x.db')], { env: { SAGA_DB: 'postgres://sagad:secret@db.internal/sagad' } });
  t.equal(pg.code, 2);
  t.match(pg.err, /for PostgreSQL use pg_dump/);
  t.notMatch(pg.err, /secret/, 'the password is not printed');
  const none = await cli(['admin', 'backup', join(dir, 'y.db'), '--db', join(dir, 'missing.db')]);
  t.equal(none.code, 1);
  t.match(none.err, /the database .*missing\.db does not exist/);
  const help = await cli(['admin', 'backup', '--help']);
  t.match(help.out, /VACUUM\s+INTO[\s\S]*restore: stop sagad/);
});
