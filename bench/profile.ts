import { readFileSync } from 'node:fs';
import { root } from './proc.js';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

/** The part of the profile to count, in ms after it began (roughly the process start). */
export interface ProfileWindow { readonly fromMs: number; readonly toMs: number }

export interface ProfileSummary {
  /** Sampled milliseconds, idle excluded. */
  readonly busyMs: number;
  readonly idleMs: number;
  /** Self time by area of the code (engine/store, @nats-io, GC...), largest first. */
  readonly byArea: { area: string; ms: number; share: number }[];
  /** Self time by function, largest first. */
  readonly top: { fn: string; where: string; ms: number; share: number }[];
  /** Inclusive time of a few functions that mark the phases of a step. */
  readonly inclusive: { fn: string; ms: number; share: number }[];
}

/** Which part of the code a call frame belongs to. */
function areaOf(f: CallFrame): string {
  if (f.url === '') return f.functionName.startsWith('(') ? f.functionName : `native ${f.functionName}`;
  const u = f.url.replace(`file://${root}/`, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (pkg !== null) return pkg[1] ?? u;
  if (u.startsWith('node:')) return 'node internals';
  const own = /^dist\/(engine\/[^/]+)/.exec(u);
  return own?.[1] ?? u;
}

/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`) over `window`: self time by area and
 * by function, and inclusive time of the functions named in `marks`.
 */
export function summarizeProfile(file: string, marks: readonly string[] = [], window: ProfileWindow = { fromMs: 0, toMs: Infinity }): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let at = 0;
  p.samples.forEach((id, i) => {
    const ms = (p.timeDeltas[i] ?? 0) / 1000;
    at += ms;
    if (at >= window.fromMs && at <= window.toMs) self.set(id, (self.get(id) ?? 0) + ms);
  });
  let idleMs = 0;
  let busyMs = 0;
  const areas = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; ms: number }>();
  for (const [id, ms] of self) {
    const f = byId.get(id)?.callFrame;
    if (f === undefined) continue;
    if (f.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    busyMs += ms;
    const area = areaOf(f);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const where = f.url === '' ? '' : `${f.url.replace(`file://${root}/`, '')}:${f.lineNumber + 1}`;
    const fn = f.functionName || '(anonymous)';
    const key = `${fn} ${where}`;
    const e = fns.get(key) ?? { fn, where, ms: 0 };
    e.ms += ms;
    fns.set(key, e);
  }
  // Inclusive time: a node's self time counts for every marked function on its path from the root.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>(marks.map((m) => [m, 0]));
  for (const [id, ms] of self) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = byId.get(at)?.callFrame.functionName ?? '';
      if (inclusive.has(name) && !seen.has(name)) {
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + ms);
      }
    }
  }
  const share = (ms: number) => (busyMs === 0 ? 0 : ms / busyMs);
  return {
    busyMs, idleMs,
    byArea: [...areas].map(([area, ms]) => ({ area, ms, share: share(ms) })).sort((a, b) => b.ms - a.ms),
    top: [...fns.values()].map((v) => ({ fn: v.fn, where: v.where, ms: v.ms, share: share(v.ms) })).sort((a, b) => b.ms - a.ms).slice(0, 25),
    inclusive: [...inclusive].map(([fn, ms]) => ({ fn, ms, share: share(ms) })),
  };
}

/** The summary as text: areas, then the top functions. */
export function formatProfile(s: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const lines = [`busy ${(s.busyMs / 1000).toFixed(2)} s sampled (idle ${(s.idleMs / 1000).toFixed(2)} s)`, '', 'self time by area:'];
  for (const a of s.byArea.slice(0, 15)) lines.push(`  ${pct(a.share)}  ${(a.ms / 1000).toFixed(2).padStart(6)} s  ${a.area}`);
  if (s.inclusive.length > 0) {
    lines.push('', 'inclusive time of step phases:');
    for (const m of s.inclusive) lines.push(`  ${pct(m.share)}  ${(m.ms / 1000).toFixed(2).padStart(6)} s  ${m.fn}`);
  }
  lines.push('', 'self time by function (top 25):');
  for (const f of s.top) lines.push(`  ${pct(f.share)}  ${(f.ms / 1000).toFixed(2).padStart(6)} s  ${f.fn}  ${f.where}`);
  return lines.join('\n');
}
