/**
 * The compiled form of a saga definition: what `engine/definitions` produces from YAML and
 * what the core reads. Durations are milliseconds; expressions and schemas arrive compiled,
 * behind the small interfaces below, so the core never imports a parser or a validator.
 */

/** Variables an expression sees: `$input`, `$steps`, `$saga`, `$event`. */
export interface ExprScope {
  readonly input: unknown;
  readonly steps: Readonly<Record<string, unknown>>;
  readonly saga: { readonly id: string; readonly key: string | null; readonly name: string; readonly correlationId: string };
  readonly event: unknown;
  /** Inside a `forEach` element only: the element and its 0-based index (`$item`, `$index`). */
  readonly item?: unknown;
  readonly index?: number;
}

/**
 * A compiled `{% ... %}` expression. `evaluate` is synchronous and deterministic for the same
 * scope and root; it throws an Error with a readable message when evaluation fails.
 * `root` is the JSONata context document (`$`): the incoming envelope for `match`, else null.
 */
export interface Expr {
  readonly source: string;
  evaluate(scope: ExprScope, root?: unknown): unknown;
}

/** A JSON value whose leaves may be expressions; rendered by `renderTemplate`. */
export type Template =
  | { readonly kind: 'literal'; readonly value: unknown }
  | { readonly kind: 'expr'; readonly expr: Expr }
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, Template])[] }
  | { readonly kind: 'array'; readonly items: readonly Template[] };

/** Validates a message payload; returns null when valid, else a readable reason. */
export type PayloadValidator = ((payload: unknown) => string | null) & {
  /** The schema's patterns RE2 cannot run with their meaning, left to JavaScript's backtracking engine (lookaround, backreferences). */
  readonly backtracking?: readonly string[];
};

export const Jitter = { none: 'none', full: 'full' } as const;
export type Jitter = (typeof Jitter)[keyof typeof Jitter];

/** Retry policy. `maxAttempts` counts the first attempt; `null` means retry until success. */
export interface RetryPolicy {
  readonly maxAttempts: number | null;
  readonly initialInterval: number;
  readonly backoffRate: number;
  readonly maxInterval: number;
  readonly jitter: Jitter;
}

export interface MessageSpec {
  readonly subject: string;
  readonly type: string;
  readonly version: number;
  readonly payload: Template;
}

export interface ReplySpec {
  readonly subject: string;
  readonly success: readonly string[];
  readonly failure: readonly string[];
  readonly retryable: readonly string[];
}

export interface CompensationSpec {
  readonly command: MessageSpec;
  readonly reply: ReplySpec;
  /** Per attempt, ms. */
  readonly timeout: number;
  readonly retry: RetryPolicy;
}

interface LeafBase {
  readonly name: string;
  readonly when: Expr | null;
  readonly compensate: CompensationSpec | null;
  /** True for the pivot and every step after it: never compensated, retried until success. */
  readonly afterPivot: boolean;
}

export interface CommandStep extends LeafBase {
  readonly kind: 'command';
  readonly pivot: boolean;
  readonly command: MessageSpec;
  readonly reply: ReplySpec;
  /** Per attempt, ms. */
  readonly timeout: number;
  readonly retry: RetryPolicy;
}

export interface WaitStep extends LeafBase {
  readonly kind: 'wait';
  readonly subject: string;
  readonly type: string;
  /** Evaluated with the incoming envelope as root; null: match on correlationId. */
  readonly match: Expr | null;
  /** ms, or null to wait until the saga deadline. */
  readonly timeout: number | null;
}

/** Waits, durably, for a duration (`for`) or until the time an expression gives (`until`). */
export interface DelayStep extends LeafBase {
  readonly kind: 'delay';
  /** ms to wait, or null when `until` gives the time. */
  readonly duration: number | null;
  /** Evaluates to an ISO timestamp (or epoch ms); null when `duration` is set. */
  readonly until: Expr | null;
}

/**
 * Starts a child saga and waits for its end: its outcome is the step's outcome. Before the
 * parent's pivot the child is undone (its own compensations) when the parent compensates.
 */
export interface ChildSagaStep extends LeafBase {
  readonly kind: 'saga';
  /** The child saga's name. */
  readonly saga: string;
  /** The child's input. */
  readonly input: Template;
  /** The child's business key, or null for none. */
  readonly key: Expr | null;
  /** ms the child may run before it is cancelled and the step fails; null: no limit but the saga deadline. */
  readonly timeout: number | null;
}

export type LeafStep = CommandStep | WaitStep | DelayStep | ChildSagaStep;

export interface ParallelGroup {
  readonly kind: 'parallel';
  readonly name: string;
  readonly when: Expr | null;
  readonly branches: readonly (readonly LeafStep[])[];
}

/**
 * A command step run once per element of an array (`forEach`): element `i` is the step
 * `name[i]`, an ordinary command step with its own attempts, timeout, retry and compensation.
 * With `steps` it is a group run in order per element: element `i`'s step `s` is the step
 * `name[i].s`, with its own attempts, timeout, retry, compensation and `when` (per element).
 */
export interface ForEachStage {
  readonly kind: 'forEach';
  readonly name: string;
  /** Whether the stage runs at all; evaluated once, before `items`. */
  readonly when: Expr | null;
  /** The array to iterate, evaluated once when the stage starts. */
  readonly items: Expr;
  /** Elements in flight at once; 1 runs them one after another. */
  readonly maxConcurrency: number;
  /** More elements than this fail the stage before any is sent. */
  readonly maxItems: number;
  /**
   * The step run per element; its name is the stage's, its `when` is null. For a group: its
   * first step under the stage's name, which is what a failure of the stage itself names.
   */
  readonly step: CommandStep;
  /** A group only: the steps each element runs, in order, by their own names. */
  readonly steps?: readonly CommandStep[];
}

/** A `forEach` stage over a group of steps. */
export type ForEachGroupStage = ForEachStage & { readonly steps: readonly CommandStep[] };

export type Stage = LeafStep | ParallelGroup | ForEachStage;

export interface CompiledSaga {
  readonly name: string;
  readonly description: string;
  /** Content hash of the definition; running instances are pinned to it. */
  readonly hash: string;
  /**
   * Everything needed to compile this saga again without its files (canonical JSON of its
   * YAML data and its schema files): stored by hash, so a running instance keeps its
   * definition after the file changed (DESIGN section 1, point 7).
   */
  readonly source: string;
  readonly start: {
    readonly on: { readonly subject: string; readonly type: string } | null;
    readonly key: Expr | null;
  };
  /** Whole-saga deadline in ms, or null for none. */
  readonly timeout: number | null;
  readonly stages: readonly Stage[];
  /** Outgoing command validators by `Type@version`. */
  readonly schemas: Readonly<Record<string, PayloadValidator>>;
}

/**
 * Pure: every leaf step of a saga in definition order, branches flattened in order; a
 * `forEach` stage gives the step it runs per element, under the stage's name, and a `forEach`
 * group each of its steps as `stage.step` (element i's is `stage[i].step`).
 */
export function leafSteps(saga: CompiledSaga): LeafStep[] {
  const out: LeafStep[] = [];
  for (const stage of saga.stages) {
    if (stage.kind === 'parallel') for (const branch of stage.branches) out.push(...branch);
    else if (stage.kind === 'forEach') out.push(...(stage.steps === undefined ? [stage.step] : stage.steps.map((l) => ({ ...l, name: `${stage.name}.${l.name}` }))));
    else out.push(stage);
  }
  return out;
}

/** Pure: the leaf step with that name, or undefined. */
export function findLeaf(saga: CompiledSaga, name: string): LeafStep | undefined {
  return leafSteps(saga).find((s) => s.name === name);
}
