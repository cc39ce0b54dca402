import { leafSteps, type CompiledSaga } from '../core/index.js';

/**
 * The loaded definitions: the current one of each saga by name, and every definition a
 * running instance is pinned to by hash (DESIGN section 1, point 7).
 */
export class Registry {
  private readonly byName = new Map<string, CompiledSaga>();
  private readonly byHash = new Map<string, CompiledSaga>();

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
    this.byName.clear();
    for (const saga of sagas) {
      this.byName.set(saga.name, saga);
      if (!this.byHash.has(saga.hash)) this.byHash.set(saga.hash, saga);
    }
  }

  /** Adds a pinned (older) definition recompiled from its stored source. */
  pin(saga: CompiledSaga): void {
    if (!this.byHash.has(saga.hash)) this.byHash.set(saga.hash, saga);
  }

  current(name: string): CompiledSaga | undefined {
    return this.byName.get(name);
  }

  byDefinitionHash(hash: string): CompiledSaga | undefined {
    return this.byHash.get(hash);
  }

  all(): CompiledSaga[] {
    return [...this.byName.values()];
  }

  /** Sagas started by an event of this subject and type. */
  triggeredBy(subject: string, type: string): CompiledSaga[] {
    return this.all().filter((s) => s.start.on !== null && s.start.on.subject === subject && s.start.on.type === type);
  }

  /** Whether some definition, loaded or pinned, has a `wait` step for events of this subject and type. */
  awaits(subject: string, type: string): boolean {
    for (const saga of this.byHash.values()) {
      if (leafSteps(saga).some((l) => l.kind === 'wait' && l.subject === subject && l.type === type)) return true;
    }
    return false;
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
