import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { driveSagas, exampleEngine } from './engine-loop.js';

/** The WAL file's header is 32 bytes; each frame a 24-byte header and its page. */
const WAL_HEADER = 32;
const FRAME_HEADER = 24;

/**
 * The commits of a WAL file as the page numbers each wrote, from byte `from` (a frame
 * boundary) to the end. Frames whose salt is not the header's belong to an earlier
 * generation of the file (before a checkpoint restarted it) and end the walk; frames after
 * the last commit frame belong to no commit and are left out.
 */
export function walCommits(wal: Buffer, from = WAL_HEADER): number[][] {
  if (wal.length < WAL_HEADER) return [];
  const pageSize = wal.readUInt32BE(8);
  const salt = [wal.readUInt32BE(16), wal.readUInt32BE(20)];
  const commits: number[][] = [];
  let pages: number[] = [];
  for (let at = from; at + FRAME_HEADER + pageSize <= wal.length; at += FRAME_HEADER + pageSize) {
    if (wal.readUInt32BE(at + 8) !== salt[0] || wal.readUInt32BE(at + 12) !== salt[1]) break;
    pages.push(wal.readUInt32BE(at));
    // A commit frame holds the database size after the commit; other frames hold 0.
    if (wal.readUInt32BE(at + 4) !== 0) {
      commits.push(pages);
      pages = [];
    }
  }
  return commits;
}

/** Which table or index each page of the database belongs to (SQLite's dbstat). */
export function pageOwners(db: Database.Database): Map<number, string> {
  return new Map(db.prepare<[], { name: string; pageno: number }>('SELECT name, pageno FROM dbstat').all().map((r) => [r.pageno, r.name]));
}

export interface WalPages {
  readonly sagas: number;
  readonly commits: number;
  readonly frames: number;
  /** Bytes the measured run appended to the WAL file (from its size): frames of the commits counted, and any frame after the last commit. */
  readonly walBytes: number;
  /** The database's page size; a frame is 24 bytes and a page. */
  readonly pageSize: number;
  /** Frames per saga by table or index, most first. */
  readonly byTree: { name: string; perSaga: number }[];
}

/**
 * What the example saga's commits write: `sagas` sagas through the engine on a real SQLite
 * file (bench/engine-loop.ts, no NATS), `concurrency` at a time, after as many again to warm
 * up, with a reader holding the WAL so that every frame the measured run wrote stays in it
 * (no checkpoint restarts it). Every commit writes each page it changed as one frame, so the
 * frames say which B-trees a step touches and how much it shares with the inputs of its
 * batch. Published outbox rows are marked sent (deleted) every `markEveryMs`, as sagad's
 * relay does every 100 ms; 0 marks them as soon as they are read, each turn a commit.
 * A page is named by the table or index that owns it at the end of the run: a page freed
 * during the run (an emptied outbox page) and reused by another B-tree counts for that one,
 * and one still free counts as "freed pages". The total is exact; the split by tree is exact
 * for trees that never give pages back (the commands, the journal) and approximate for the
 * outbox.
 */
export async function walPages(sagas: number, concurrency: number, markEveryMs = 100): Promise<WalPages> {
  const dir = mkdtempSync(join(tmpdir(), 'sagad-bench-wal-'));
  const file = join(dir, 'sagad.db');
  const { store, handleInbound } = exampleEngine(dir);
  const reader = new Database(file);
  try {
    await driveSagas(store, handleInbound, sagas, concurrency, { markEveryMs });
    // An empty WAL, then one commit before the reader's snapshot: a reader whose snapshot
    // needs no frame of the WAL would not stop the next writer from starting it over.
    const [emptied] = reader.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    if (emptied?.busy !== 0) throw new Error('the WAL could not be emptied before the measured run (a reader or writer held it)');
    reader.exec('CREATE TABLE IF NOT EXISTS bench_wal_mark (n INTEGER); INSERT INTO bench_wal_mark VALUES (1)');
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM bench_wal_mark').get();
    // The WAL was emptied, so it ends where the marker's commits did.
    const from = statSync(`${file}-wal`).size;
    await driveSagas(store, handleInbound, sagas, concurrency, { markEveryMs });
    const wal = readFileSync(`${file}-wal`);
    const commits = walCommits(wal, from);
    reader.exec('COMMIT');
    const owners = pageOwners(reader);
    const counts = new Map<string, number>();
    for (const c of commits) {
      for (const p of c) {
        const owner = owners.get(p) ?? 'freed pages';
        counts.set(owner, (counts.get(owner) ?? 0) + 1);
      }
    }
    const frames = commits.reduce((n, c) => n + c.length, 0);
    return {
      sagas, commits: commits.length, frames, walBytes: wal.length - from, pageSize: wal.readUInt32BE(8),
      byTree: [...counts].map(([name, n]) => ({ name, perSaga: n / sagas })).sort((a, b) => b.perSaga - a.perSaga),
    };
  } finally {
    reader.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The report: frames per saga and per commit, then by B-tree. */
export function formatWalPages(r: WalPages, concurrency: number, markEveryMs = 100): string {
  const lines = [
    `example saga, concurrency ${concurrency}, outbox marked every ${markEveryMs} ms, ${r.sagas} sagas: ${r.commits} commits, ${r.frames} WAL frames, `
      + `${(r.frames / r.sagas).toFixed(2)} per saga, ${(r.frames / Math.max(1, r.commits)).toFixed(2)} per commit`,
    'frames per saga by table or index:',
    ...r.byTree.map((t) => `  ${t.perSaga.toFixed(2).padStart(7)}  ${t.name}`),
  ];
  return lines.join('\n');
}

const HELP = `Usage: node dist/bench/wal-pages.js [--concurrency N] [--sagas N] [--mark-every MS]

Runs the example saga through the engine on a real SQLite file (no NATS) and prints which
tables and indexes its commits wrote, as WAL frames per saga (each commit writes every page it
changed once). Published outbox rows are marked sent every MS milliseconds, as sagad's relay
does every 100; 0 marks them at once, a commit each time. Defaults: concurrency 1, 300 sagas
(and as many before, to warm up), 100 ms.`;

function option(args: readonly string[], name: string, fallback: number, min = 1): number {
  const i = args.indexOf(name);
  if (i === -1) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} takes a whole number from ${min}, not ${args[i + 1] ?? 'nothing'}`);
  return v;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${HELP}\n`);
  } else {
    try {
      const concurrency = option(args, '--concurrency', 1);
      const sagas = option(args, '--sagas', 300);
      const markEveryMs = option(args, '--mark-every', 100, 0);
      process.stdout.write(`${formatWalPages(await walPages(sagas, concurrency, markEveryMs), concurrency, markEveryMs)}\n`);
    } catch (err) {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${HELP}\n`);
      process.exitCode = 2;
    }
  }
}
