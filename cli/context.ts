/** What every command gets from the global options: where to talk, how to print. */
import type { Command } from 'commander';
import { ApiClient, serverUrl } from './client.js';
import type { Io } from './io.js';
import { makeStyle, wantsColour, type Style } from './render/style.js';
import { dbSource, httpSource, type Source } from './source.js';

/** How commands print: a table for people, or the documents as JSON (indented, or one a line). */
export const OutputFormat = { table: 'table', json: 'json', jsonl: 'jsonl' } as const;
export type OutputFormat = (typeof OutputFormat)[keyof typeof OutputFormat];

/** The options every command accepts (declared on the program). */
export interface GlobalOptions {
  readonly server?: string;
  readonly token?: string;
  readonly output?: OutputFormat;
  readonly color?: boolean;
}

/** A command's view of the world: output format, style, width, clock, and where to read. */
export interface Ctx {
  readonly io: Io;
  readonly output: OutputFormat;
  readonly style: Style;
  /** Characters a line may take; Infinity when stdout is not a terminal (and COLUMNS is unset). */
  readonly width: number;
  now(): number;
  /** The HTTP client; throws a usage error for a bad --server. */
  api(): ApiClient;
  /** `--db FILE` read-only, else the HTTP API. */
  source(db?: string): Source;
  out(text: string): void;
  /** Prints a document: indented JSON for `-o json`, one line for `-o jsonl`. */
  doc(value: unknown): void;
}

function widthOf(io: Io): number {
  const env = io.env ?? {};
  if (io.isTTY === true && io.columns !== undefined && io.columns > 0) return io.columns;
  const cols = Number(env.COLUMNS);
  if (env.COLUMNS !== undefined && Number.isInteger(cols) && cols > 0) return cols;
  return io.isTTY === true ? 80 : Infinity;
}

/** Builds the context of `cmd` from its options and its ancestors' (the global ones). */
export function contextOf(cmd: Command, io: Io): Ctx {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const env = io.env ?? {};
  const output = g.output ?? 'table';
  const style = makeStyle(g.color !== false && output === 'table' && wantsColour(io.isTTY === true, env));
  let client: ApiClient | undefined;
  const api = (): ApiClient => (client ??= new ApiClient(serverUrl(g.server, env), g.token ?? (env.SAGA_API_TOKEN === '' ? undefined : env.SAGA_API_TOKEN)));
  return {
    io, output, style, width: widthOf(io),
    now: () => io.now?.() ?? Date.now(),
    api,
    source: (db) => (db === undefined ? httpSource(api()) : dbSource(db)),
    out: (text) => io.out(text),
    doc: (value) => io.out(output === 'jsonl' ? `${JSON.stringify(value)}\n` : `${JSON.stringify(value, null, 2)}\n`),
  };
}
