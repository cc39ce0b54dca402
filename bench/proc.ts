import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** The repository root: this file runs from dist/bench, or from bench/ under the tests. */
export const root = basename(join(import.meta.dirname, '..')) === 'dist' ? join(import.meta.dirname, '..', '..') : join(import.meta.dirname, '..');

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux we run on. */
const CLK_TCK = 100;

/** CPU seconds (user + system) the process has used so far, from /proc/<pid>/stat; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** CPU seconds of `pid` and all its descendants alive now (a PostgreSQL server: the postmaster and its backends). */
export function treeCpuSeconds(pid: number): number {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const inTree = (p: number): boolean => {
    for (let at: number | undefined = p, hops = 0; at !== undefined && at > 1 && hops < 64; at = parentOf.get(at), hops++) if (at === pid) return true;
    return false;
  };
  let sum = 0;
  for (const p of parentOf.keys()) if (inTree(p)) sum += cpuSeconds(p);
  return sum;
}

/** Write counters of /proc/<pid>/io: bytes handed to write calls (files and sockets), write calls, bytes sent to storage. */
export interface IoCounters { readonly wchar: number; readonly syscw: number; readonly writeBytes: number }

export function ioCounters(pid: number): IoCounters {
  try {
    const text = readFileSync(`/proc/${pid}/io`, 'utf8');
    const get = (k: string) => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    return { wchar: get('wchar'), syscw: get('syscw'), writeBytes: get('write_bytes') };
  } catch {
    return { wchar: 0, syscw: 0, writeBytes: 0 };
  }
}

/** CPU seconds all cores have spent busy (not idle or waiting for I/O) since boot, from /proc/stat. */
export function systemBusySeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
  return (user + nice + system + irq + softirq + steal) / CLK_TCK;
}

/** The pid of the process whose command line contains `needle`, or undefined. */
export function pidWith(needle: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** A `VmHWM` (peak) or `VmRSS` (now) figure of /proc/<pid>/status, in MB; 0 once the process is gone. */
export function memoryMb(pid: number, field: 'VmHWM' | 'VmRSS' = 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) / 1024;
  } catch {
    return 0;
  }
}

/** A port no one listens on right now (the kernel's choice); a tiny race with other processes is accepted. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A child process with the last lines of its stderr, for error messages. */
export interface Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** performance.now() when it was spawned. */
  readonly spawnedAt: number;
  readonly tail: string[];
  readonly exited: Promise<number | null>;
  /** Sends SIGTERM (then SIGKILL after `graceMs`) and waits for the exit. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns `node <args>` with `env` added to ours; stderr goes to a ring of 40 lines, stdout lines to `onLine`. */
export function spawnNode(args: readonly string[], env: Record<string, string>, onLine?: (line: string) => void): Child {
  const spawnedAt = performance.now();
  const proc = spawn(process.execPath, [...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  let partial = '';
  proc.stderr?.on('data', (b: Buffer) => {
    const lines = (partial + b.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      tail.push(l);
      if (tail.length > 40) tail.shift();
    }
  });
  let out = '';
  proc.stdout?.on('data', (b: Buffer) => {
    const lines = (out + b.toString()).split('\n');
    out = lines.pop() ?? '';
    for (const l of lines) onLine?.(l);
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  if (proc.pid === undefined) throw new Error(`could not spawn node ${args.join(' ')}`);
  return {
    proc, pid: proc.pid, spawnedAt, tail, exited,
    async stop(graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Polls `url` until it answers 200; returns the ms it took. Throws when `child` exits first or after `timeoutMs`. */
export async function waitFor200(url: string, child: Child, timeoutMs = 60_000, everyMs = 10): Promise<number> {
  const began = performance.now();
  for (;;) {
    if (child.proc.exitCode !== null) throw new Error(`process exited (${child.proc.exitCode}) before ${url} answered:\n${child.tail.join('\n')}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - began;
    } catch {
      // not listening yet
    }
    if (performance.now() - began > timeoutMs) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${child.tail.join('\n')}`);
    await delay(everyMs);
  }
}

/** The current git commit (short), with `-dirty` when the work tree has changes; `nogit` outside a repository. */
export function gitSha(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha}-dirty` : sha;
  } catch {
    return 'nogit';
  }
}
