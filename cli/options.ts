/** Parsers of option values: a bad value is a usage error (exit 2) that says what to write. */
import { InvalidArgumentError, Option } from 'commander';
import { InstanceStatus } from '../engine/core/index.js';
import { parseDuration } from '../engine/definitions/index.js';

/** Pure: a positive integer, for `--limit`. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('write a whole number from 1 up, like 20.');
  return n;
}

/** Pure: a duration in ms (`500ms`, `2s`, `1m30s`), for `--interval`. */
export function durationMs(value: string): number {
  const ms = parseDuration(value);
  if (ms === null || ms <= 0) throw new InvalidArgumentError('write a duration like 500ms, 2s or 1m.');
  return ms;
}

/**
 * `--since`: an ISO time, epoch milliseconds, or a duration meaning that long ago (`30m`, `2h`,
 * `1d`). Returns a function of now, so tests with a fixed clock get fixed answers.
 */
export function since(value: string): (now: number) => number {
  if (/^\d{10,15}$/.test(value)) return () => Number(value);
  const ago = parseDuration(value);
  if (ago !== null) return (now) => now - ago;
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) throw new InvalidArgumentError('write a time like 2026-11-26T12:00:00Z, epoch milliseconds, or how long ago like 30m, 2h or 1d.');
  return () => at;
}

/** The most characters a reason may have: the server's limit (`reasonSchema` in engine/api/routes-actions.ts). */
export const REASON_MAX = 1000;

/**
 * Pure: `--reason` (cancel, retry, dlq redrive and purge, defs reload), checked as the server
 * checks it: one line of printable text, at most 1000 characters; and, here, not blank (a blank
 * one is most likely an empty shell variable). Checked while the arguments are read, so a bad one
 * stops the command before anything is listed, asked or sent.
 */
export function reason(value: string): string {
  if (value.trim() === '') {
    throw new InvalidArgumentError('a reason says why in a few words, like --reason "customer called"; leave --reason out to give none where it is optional.');
  }
  // eslint-disable-next-line no-control-regex -- the control characters the server refuses in a reason
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new InvalidArgumentError('a reason is one line of printable text: no newline, tab or other control character.');
  }
  // Characters as the server's JSON Schema counts them (code points), not UTF-16 units.
  const length = [...value].length;
  if (length > REASON_MAX) throw new InvalidArgumentError(`a reason has at most ${REASON_MAX} characters (this one has ${length}); say it shorter.`);
  return value;
}

/** `--state`, limited to the instance states, or to those an act can succeed on (`states`). */
export function stateOption(description = 'only instances in this state', states: readonly InstanceStatus[] = Object.values(InstanceStatus)): Option {
  return new Option('--state <state>', description).choices(states);
}

/** `-o/--output` and the other options every command takes. */
export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output: a table for people, json (the API documents) or jsonl (one document a line)')
    .choices(['table', 'json', 'jsonl']).default('table');
}

/** Pure: `value` as one shell word in a command sagactl suggests: as is when plain, else single-quoted. */
export function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Help text listing examples, shown after the options. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => (l.startsWith('#') ? `  ${l}` : `  $ ${l}`)).join('\n')}\n`;
}
