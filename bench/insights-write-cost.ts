/**
 * What SQLite migration 3 costs each write: 20,000 instance rows written as the store writes
 * them (an insert, three steps that keep the state, one change of state; 3 KB state
 * documents; 100 instances a transaction) into an in-memory database of sagad's schema,
 * without migration 3's triggers and index, with the partial index only, and with both;
 * interleaved rounds, medians and minimums. CPU only: no fsync, no journal, no outbox.
 *
 *   npx tsc -p bench/tsconfig.json && node dist/bench/insights-write-cost.js [rounds]
 */
import { loadavg } from 'node:os';
import Database from 'better-sqlite3';
import { migrate } from '../engine/store/index.js';
import { percentiles } from './stats.js';

const STATE = 'x'.repeat(3000);
const N = 20_000;
const BATCH = 100;

function run(drop: string): number {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  migrate(db);
  if (drop !== '') db.exec(drop);
  const ins = db.prepare(`INSERT INTO instances (id, saga, definition_hash, key, correlation_id, status, created_at, updated_at, version, state)
    VALUES (?, 'order', 'h1234567890123456789012345678901234567890123456789012345678901234', ?, ?, 'running', ?, ?, 1, ?)`);
  const step = db.prepare('UPDATE instances SET updated_at = ?, version = ?, state = ? WHERE id = ?');
  const turn = db.prepare('UPDATE instances SET status = ?, updated_at = ?, version = ?, state = ? WHERE id = ?');
  const began = performance.now();
  for (let b = 0; b < N / BATCH; b++) {
    db.transaction(() => {
      for (let i = b * BATCH; i < (b + 1) * BATCH; i++) {
        const id = `i-${i}`;
        const at = 1e12 + i;
        ins.run(id, id, id, at, at, STATE);
        for (let k = 2; k <= 4; k++) step.run(at + k, k, STATE, id);
        turn.run(i % 10 === 7 ? 'compensated' : 'completed', at + 50 + (i % 997), 5, STATE, id);
      }
    })();
  }
  const ms = performance.now() - began;
  db.close();
  return ms;
}

const TRIGGERS = 'DROP TRIGGER instances_counted; DROP TRIGGER instances_recounted; DROP TRIGGER instances_uncounted;';
const variants = { without: `${TRIGGERS} DROP INDEX instances_took;`, 'partial index only': TRIGGERS, 'triggers and index': '' } as const;
const rounds = Number(process.argv[2] ?? 12);
const times: Record<string, number[]> = {};
for (let r = 0; r < rounds; r++) for (const [name, drop] of Object.entries(variants)) (times[name] ??= []).push(run(drop));
const base = percentiles(times.without ?? []).p50;
console.log(`${N.toLocaleString('en')} instances x 5 row writes, ${rounds} rounds, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}:`);
for (const [name, ms] of Object.entries(times)) {
  const p = percentiles(ms);
  console.log(`${name.padEnd(20)} median ${p.p50.toFixed(0)} ms (min ${Math.min(...ms).toFixed(0)}), +${(((p.p50 - base) * 1000) / N).toFixed(1)} us an instance`);
}
