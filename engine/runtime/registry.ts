import { leafSteps, type CompiledSaga } from '../core/index.js';

/** Subject and type pairs whose answers are kept at most. */
const MAX_ANSWERS = 1_000;

/**
 * The loaded definitions: the current one of each saga by name, and every definition a
 * running instance is pinned to by hash (DESIGN section 1, point 7).
 */
export class Registry {
  private readonly byName = new Map<string, CompiledSaga>();
  private readonly byHash = new Map<string, CompiledSaga>();
  /**
   * The answers of `triggeredBy` and `awaits` by subject and type, asked for every message:
   * dropped when the definitions change, and when a flood of types no definition knows fills them.
   */
  private readonly triggers = new Map<string, CompiledSaga[]>();
  private readonly awaited = new Map<string, boolean>();

  constructor(current: readonly CompiledSaga[]) {
    for (const saga of current) {
      this.byName.set(saga.name, saga);
      this.byHash.set(saga.hash, saga);
    }
  }

  /**
   * Makes `sagas` the current definitions (a reload): new starts use them at once; every
   * definition loaded before stays reachable by hash, so running instances keep theirs
   * (DESIGN section 1, point 7) and their subjects stay consumed.
   */
  replace(sagas: readonly CompiledSaga[]): void {
    this.forgetAnswers();
    this.byName.clear();
    for (const saga of sagas) {
      this.byName.set(saga.name, saga);
      if (!this.byHash.has(saga.hash)) this.byHash.set(saga.hash, saga);
    }
  }

  /** Adds a pinned (older) definition recompiled from its stored source. */
  pin(saga: CompiledSaga): void {
    if (this.byHash.has(saga.hash)) return;
    this.forgetAnswers();
    this.byHash.set(saga.hash, saga);
  }

  private forgetAnswers(): void {
    this.triggers.clear();
    this.awaited.clear();
  }

  current(name: string): CompiledSaga | undefined {
    return this.byName.get(name);
  }

  byDefinitionHash(hash: string): CompiledSaga | undefined {
    return this.byHash.get(hash);
  }

  /** Every definition of the saga this process holds: the current one and those pinned by hash. */
  versionsOf(name: string): CompiledSaga[] {
    return [...this.byHash.values()].filter((d) => d.name === name);
  }

  all(): CompiledSaga[] {
    return [...this.byName.values()];
  }

  /** Sagas started by an event of this subject and type. */
  triggeredBy(subject: string, type: string): CompiledSaga[] {
    const k = `${subject}\u0000${type}`;
    let found = this.triggers.get(k);
    if (found === undefined) {
      if (this.triggers.size >= MAX_ANSWERS) this.triggers.clear();
      found = this.all().filter((s) => s.start.on !== null && s.start.on.subject === subject && s.start.on.type === type);
      this.triggers.set(k, found);
    }
    return [...found];
  }

  /** Whether some definition, loaded or pinned, has a `wait` step for events of this subject and type. */
  awaits(subject: string, type: string): boolean {
    const k = `${subject}\u0000${type}`;
    let found = this.awaited.get(k);
    if (found === undefined) {
      if (this.awaited.size >= MAX_ANSWERS) this.awaited.clear();
      found = [...this.byHash.values()].some((saga) => leafSteps(saga).some((l) => l.kind === 'wait' && l.subject === subject && l.type === type));
      this.awaited.set(k, found);
    }
    return found;
  }

  /** Every subject sagad must consume: replies, compensation replies, waits and triggers of all loaded definitions. */
  inboundSubjects(): string[] {
    return inboundSubjectsOf([...this.byHash.values()]);
  }

  /** Every subject sagad publishes to: commands, compensations and lifecycle events. */
  outboundSubjects(): string[] {
    return outboundSubjectsOf([...this.byHash.values()]);
  }
}

/** Pure: the subjects these definitions consume (replies, compensation replies, waits, triggers), sorted. */
export function inboundSubjectsOf(sagas: readonly CompiledSaga[]): string[] {
  const subjects = new Set<string>();
  for (const saga of sagas) {
    if (saga.start.on !== null) subjects.add(saga.start.on.subject);
    for (const l of leafSteps(saga)) {
      if (l.kind === 'command') subjects.add(l.reply.subject);
      else if (l.kind === 'wait') subjects.add(l.subject);
      if (l.compensate !== null) subjects.add(l.compensate.reply.subject);
    }
  }
  return [...subjects].sort();
}

/** Pure: the subjects these definitions publish to (commands, compensations, lifecycle events), sorted. */
export function outboundSubjectsOf(sagas: readonly CompiledSaga[]): string[] {
  const subjects = new Set<string>(['sagas.events']);
  for (const saga of sagas) {
    for (const l of leafSteps(saga)) {
      if (l.kind === 'command') subjects.add(l.command.subject);
      if (l.compensate !== null) subjects.add(l.compensate.command.subject);
    }
  }
  return [...subjects].sort();
}
