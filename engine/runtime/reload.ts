/**
 * Hot reload of the definitions file (`SIGHUP`, `POST /v1/definitions/reload`). An invalid file
 * is refused with every error and changes nothing. A valid one is stored (so a restart can
 * recompile what instances pin), its new subjects get streams and consumers, and only then
 * does it become current: a new saga can start at once and nothing it sends or awaits goes
 * unconsumed; a removed saga starts no new instance; running instances keep the definition
 * they started with, whatever the file says now (DESIGN section 1, point 7).
 *
 * There is no crash boundary inside a reload: what it writes (definition sources, streams,
 * consumers) is idempotent, and after a crash sagad loads the file anew at start, which is
 * what the reload was doing. So it has no fault point.
 */
import type { CompiledSaga } from '../core/index.js';
import { formatDefinitionError, loadDefinitionsFile } from '../definitions/index.js';
import type { LogFn } from '../log.js';
import { inboundSubjectsOf, outboundSubjectsOf, type Registry } from './registry.js';

/** A saga as a reload reports it. */
export interface SagaVersion {
  readonly name: string;
  readonly hash: string;
}

/** What a reload changed; `subjects` are the subjects newly consumed. */
export interface ReloadDiff {
  readonly added: readonly SagaVersion[];
  readonly removed: readonly SagaVersion[];
  readonly changed: readonly { readonly name: string; readonly oldHash: string; readonly newHash: string }[];
  readonly unchanged: readonly string[];
  readonly subjects: readonly string[];
}

/** A reload's answer: the difference, or every error of the refused file (formatted as at startup). */
export type ReloadOutcome = { readonly ok: true; readonly diff: ReloadDiff } | { readonly ok: false; readonly errors: readonly string[] };

/** Who asked for a reload, for the log: the signal, or an HTTP caller with its token's fingerprint. */
export interface ReloadActor {
  readonly via: 'SIGHUP' | 'http';
  readonly access?: string;
  /** `sha256:` and 12 hex digits of the bearer token, never the token. */
  readonly token?: string;
  /** The caller's token name (`SAGA_API_TOKENS`; `admin` for `SAGA_API_TOKEN`), as other operator actions record it. */
  readonly by?: string;
  /** The operator's reason, when one was given. */
  readonly reason?: string;
  readonly remote?: string;
}

/** What a reload needs of the running server. */
export interface ReloadDeps {
  readonly path: string;
  readonly registry: Registry;
  readonly log: LogFn;
  /** Stores a definition's source by hash (idempotent). */
  remember(saga: CompiledSaga): Promise<void>;
  /**
   * Ensures streams for all these subjects and starts consumers for the inbound ones not yet
   * consumed; resolves with the new ones. The new consumers hand nothing over before `after`
   * settles: true once the reloaded definitions are current, false when the reload failed.
   */
  consume(inbound: readonly string[], outbound: readonly string[], after: Promise<boolean>): Promise<string[]>;
}

/** Pure: what changes from the loaded definitions to the file's. */
export function diffLoaded(current: readonly CompiledSaga[], next: readonly CompiledSaga[]): Omit<ReloadDiff, 'subjects'> {
  const before = new Map(current.map((s) => [s.name, s]));
  const after = new Map(next.map((s) => [s.name, s]));
  const added: SagaVersion[] = [];
  const changed: { name: string; oldHash: string; newHash: string }[] = [];
  const unchanged: string[] = [];
  for (const s of next) {
    const old = before.get(s.name);
    if (old === undefined) added.push({ name: s.name, hash: s.hash });
    else if (old.hash !== s.hash) changed.push({ name: s.name, oldHash: old.hash, newHash: s.hash });
    else unchanged.push(s.name);
  }
  const removed = current.filter((s) => !after.has(s.name)).map((s) => ({ name: s.name, hash: s.hash }));
  return { added, removed, changed, unchanged };
}

/** Reloads the definitions file, one reload at a time; never throws for a bad file (it is an outcome). */
export class Reloader {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ReloadDeps) {}

  /** Runs a reload after any in progress; rejects only when storing or consuming failed (the old definitions then stay current). */
  reload(actor: ReloadActor): Promise<ReloadOutcome> {
    const run = this.queue.then(() => this.once(actor));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async once(actor: ReloadActor): Promise<ReloadOutcome> {
    const { path, registry, log } = this.deps;
    const loaded = loadDefinitionsFile(path);
    if (!loaded.ok) {
      const errors = loaded.errors.map(formatDefinitionError);
      log('warn', `definitions reload refused: ${errors.length} problem${errors.length === 1 ? '' : 's'} in ${path}; the loaded definitions stay`, { ...actor, file: path, errors });
      return { ok: false, errors };
    }
    const d = diffLoaded(registry.all(), loaded.sagas);
    for (const saga of loaded.sagas) await this.deps.remember(saga);
    // Running instances may still use the old definitions: their subjects stay in the lists.
    const everything = [...registry.all(), ...loaded.sagas];
    // A new consumer starts with what its stream holds: a trigger of a new saga handled before
    // the switch would find no saga and be acked as unrelated. They wait for the switch.
    let switched!: (current: boolean) => void;
    const after = new Promise<boolean>((resolve) => { switched = resolve; });
    let subjects: string[];
    try {
      subjects = await this.deps.consume(inboundSubjectsOf(everything), outboundSubjectsOf(everything), after);
    } catch (err) {
      switched(false);
      throw err;
    }
    registry.replace(loaded.sagas);
    switched(true);
    const diff: ReloadDiff = { ...d, subjects };
    log('info', 'definitions reloaded', {
      ...actor, file: path, added: diff.added.map((s) => s.name), removed: diff.removed.map((s) => s.name),
      changed: diff.changed.map((s) => s.name), unchanged: diff.unchanged.length, newSubjects: subjects,
    });
    return { ok: true, diff };
  }
}
