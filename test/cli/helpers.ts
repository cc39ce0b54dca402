/** Running sagactl in-process with a captured terminal. */
import { runCli } from '../../cli/program.js';
import type { ExitCode, Io } from '../../cli/io.js';

export interface Run {
  code: ExitCode;
  out: string;
  err: string;
}

export interface TermOptions {
  /** Epoch ms; default the wall clock. */
  now?: number;
  columns?: number;
  tty?: boolean;
  env?: Record<string, string | undefined>;
  /** Answers to questions, in order; absent: there is no terminal to ask on. */
  answers?: string[];
  sleep?: (ms: number) => Promise<void>;
}

/** Runs sagactl with `args` and what the terminal options say; never touches the process's streams. */
export async function cli(args: string[], o: TermOptions = {}): Promise<Run & { asked: string[] }> {
  let out = '';
  let err = '';
  const asked: string[] = [];
  const answers = o.answers === undefined ? undefined : [...o.answers];
  const io: Io = {
    out: (s) => { out += s; },
    err: (s) => { err += s; },
    isTTY: o.tty ?? false,
    ...(o.columns === undefined ? {} : { columns: o.columns }),
    env: o.env ?? {},
    now: () => o.now ?? Date.now(),
    ...(answers === undefined ? {} : { ask: async (q: string) => { asked.push(q); return answers.shift() ?? ''; } }),
    ...(o.sleep === undefined ? {} : { sleep: o.sleep }),
  };
  const code = await runCli(args, io);
  return { code, out, err, asked };
}
