import type { CompiledSaga, InstanceState } from '../core/index.js';
import { compileSagaSource, formatDefinitionError } from '../definitions/index.js';
import { SagaError } from '../errors.js';
import type { LogFn } from '../log.js';
import type { StorePort } from '../store/port.js';
import type { Registry } from './registry.js';

/** What finding an instance's definition needs: the store of sources, the registry to pin in, and who consumes a pinned one's subjects. */
export interface PinnedDefinitionsDeps {
  readonly store: Pick<StorePort, 'rememberDefinition' | 'hashesInUse' | 'getDefinitionSource'>;
  readonly registry: Registry;
  readonly log: LogFn;
  /** Told of a definition compiled again for an instance after start-up, before it is pinned: resolves once its subjects are consumed (EngineDeps). */
  readonly onPinned?: (saga: CompiledSaga) => Promise<void>;
}

/**
 * The definition each instance runs (DESIGN section 1, point 7): the one it started with,
 * pinned by content hash, whatever the file says now. Loaded definitions are stored by hash;
 * one an instance runs that is no longer loaded is compiled again from its stored source and
 * pinned in the registry.
 */
export class PinnedDefinitions {
  constructor(private readonly deps: PinnedDefinitionsDeps) {}

  /** Stores the source of every loaded definition, so instances keep theirs across file changes. */
  async remember(): Promise<void> {
    for (const saga of this.deps.registry.all()) await this.deps.store.rememberDefinition(saga.hash, saga.name, saga.source);
  }

  /**
   * Brings back, before the consumers start, every definition an instance that may still
   * receive an input was started with (a failed one an operator's retry, a compensated one a
   * late success): their reply and wait subjects are consumed too, even when the file no
   * longer has them.
   */
  async pinInUse(): Promise<void> {
    for (const hash of await this.deps.store.hashesInUse()) {
      if (this.deps.registry.byDefinitionHash(hash) !== undefined) continue;
      const saga = await this.compileStored(hash, `running instances use definition ${hash}`);
      this.deps.registry.pin(saga);
      this.deps.log('info', 'loaded a stored definition other than the current one, for instances that may still take an input', { saga: saga.name, hash });
    }
  }

  /** The definition an instance runs, by its pinned hash; recompiled from the store when not loaded. */
  async of(state: InstanceState): Promise<CompiledSaga> {
    const loaded = this.deps.registry.byDefinitionHash(state.definitionHash);
    if (loaded !== undefined) return loaded;
    const saga = await this.compileStored(state.definitionHash, `instance ${state.id} runs definition ${state.definitionHash} of ${state.saga}`);
    // Pinned once its subjects are consumed: should that fail, the next input asks again.
    await this.deps.onPinned?.(saga);
    this.deps.registry.pin(saga);
    this.deps.log('info', 'loaded a stored definition other than the current one, for an instance', { saga: saga.name, hash: saga.hash, instance: state.id });
    return saga;
  }

  /** Compiles a stored definition source again. */
  private async compileStored(hash: string, who: string): Promise<CompiledSaga> {
    const source = await this.deps.store.getDefinitionSource(hash);
    if (source === undefined) throw new SagaError('SAGA_ERR_DEFINITION_MISSING', `${who}, which is neither loaded nor stored`);
    const r = compileSagaSource(source);
    if (!r.ok) throw new Error(`stored definition ${hash} does not compile: ${r.errors.map(formatDefinitionError).join('; ')}`);
    return r.saga;
  }
}
