import type { Expr } from '../core/definition.js';
import { formatPath, show } from './errors.js';
import type { DefinitionError, DefinitionPath } from './errors.js';
import { MAX_DURATION_MS, parseDuration } from './duration.js';
import type { RawRetry } from './raw.js';
import { ExpressionDepthError, ExpressionSyntaxError, bindsClone, compileExprDetailed, forbiddenFunctions } from './expression.js';
import { checkReference, stepReferences } from './references.js';
import type { RefSite, StepPlace } from './references.js';
import { MAX_NESTING, shortPath } from './nesting.js';
import type { SourceMap } from './source-map.js';

/** A `saga` step, as the loader checks it against the child saga it names. */
export interface ChildReference {
  readonly parent: string;
  readonly step: string;
  readonly child: string;
  /** The step sits at or after its saga's pivot: its child is never compensated. */
  readonly afterPivot: boolean;
  readonly path: DefinitionPath;
}

/** Collects the errors of one file, each located through the file's source map. */
export class FileContext {
  readonly errors: DefinitionError[] = [];
  /** The `saga` steps compiled in this file: checked against the other sagas once all are loaded (loader.ts). */
  readonly children: ChildReference[] = [];

  /**
   * @param stored a definition the loader stored, compiled again for the instances pinned to
   *   it: the rules added since it may have been stored (forbidden functions, the longest
   *   duration, unknown JSON Schema keywords) are not applied, so that it compiles as it did
   *   when they started.
   */
  constructor(
    readonly file: string,
    readonly map: SourceMap,
    readonly stored = false,
  ) {}

  /** Records an error at the node at `path` (at its key when `at` is `key`). */
  report(path: DefinitionPath, message: string, hint: string, at: 'value' | 'key' = 'value'): void {
    const { line, column } = this.map.position(path, at);
    this.errors.push({ file: this.file, line, column, path: formatPath(path), message, hint });
  }

  /**
   * Records that the value at `path` nests `depth` levels, more than MAX_NESTING: located at
   * the node itself, shown with the start of its path (the whole of it would be hundreds of `[0]`).
   */
  reportTooDeep(path: DefinitionPath, depth: number, what: string, hint = 'nest the data less deeply'): void {
    const { line, column } = this.map.position(path);
    const shown = shortPath(path);
    this.errors.push({
      file: this.file, line, column, path: `${formatPath(shown.path)}${shown.cut ? '...' : ''}`,
      message: `${what} nests ${depth.toLocaleString('en-US')} levels deep here; at most ${MAX_NESTING} are read`, hint,
    });
  }

  /**
   * Runs the compilation of the part at `at`, reporting a RangeError (the stack or a string
   * run out, on input no check foresaw) as that part's error instead of stopping the loader:
   * the server must refuse a bad definition with its file and line, not crash.
   */
  guarded<T>(at: DefinitionPath, compilePart: () => T | null): T | null {
    try {
      return compilePart();
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      this.report(at, `the loader could not check this part: ${err.message}`, 'nest its values and expressions less deeply');
      return null;
    }
  }

  /** Milliseconds of the duration at `path`, reporting a zero one; schema checks ran before. */
  positiveDuration(path: DefinitionPath, text: string): number | null {
    const ms = parseDuration(text);
    if (ms === null) {
      this.report(path, `\`${show(text)}\` is not a duration`, 'write a duration like 500ms, 30s, 10m or 1h');
      return null;
    }
    if (ms <= 0) {
      this.report(path, 'a timeout must be longer than zero', 'write a duration like 500ms, 30s, 10m or 1h');
      return null;
    }
    return this.withinMax(path, text, ms) ? ms : null;
  }

  /** Reports a retry block's intervals longer than the longest duration; schema checks ran before. */
  retryIntervals(path: DefinitionPath, retry: RawRetry | undefined): void {
    for (const key of ['initialInterval', 'maxInterval'] as const) {
      const text = retry?.[key];
      const ms = text === undefined ? null : parseDuration(text);
      if (text !== undefined && ms !== null) this.withinMax([...path, key], text, ms);
    }
  }

  private withinMax(path: DefinitionPath, text: string, ms: number): boolean {
    if (ms <= MAX_DURATION_MS || this.stored) return true;
    this.report(path, `\`${show(text)}\` is longer than the longest duration sagad takes, 100 years (36525d)`, 'write a shorter duration');
    return false;
  }
}

/** A saga being compiled: its file, its path in the file and where each step sits. */
export class SagaContext {
  constructor(
    readonly file: FileContext,
    readonly places: ReadonlyMap<string, StepPlace>,
    /** The saga's name, for what is checked across sagas later. */
    readonly sagaName = '',
  ) {}

  /** Compiles the expression at `path` and checks its `$steps` references; null after an error. */
  expression(path: DefinitionPath, source: string, site: RefSite): Expr | null {
    try {
      const { expr, ast } = compileExprDetailed(source);
      let ok = true;
      for (const name of this.file.stored ? [] : forbiddenFunctions(ast)) {
        this.file.report(path, `\`$${name}\` is not allowed in saga expressions: an expression must give the same result when an instance is replayed`,
          name === 'now' || name === 'millis' ? 'take the time from the saga\'s data ($event, $input or a step\'s reply), or wait with a delay step'
            : name === 'eval' ? 'write the expression itself instead of text to evaluate' : 'take the value from the saga\'s data (its input or a step\'s reply)');
        ok = false;
      }
      if (!this.file.stored && bindsClone(ast)) {
        this.file.report(path, '`$clone` is bound in the expression: a transform (`~> | ... |`) copies what it changes through `$clone`, so another one could change the saga\'s data in place, and the instance would not replay as it ran',
          'give the variable another name');
        ok = false;
      }
      for (const name of stepReferences(ast)) {
        const problem = checkReference(name, site, this.places);
        if (problem !== null) {
          this.file.report(path, problem.message, problem.hint);
          ok = false;
        }
      }
      return ok ? expr : null;
    } catch (err) {
      if (err instanceof ExpressionDepthError) {
        this.file.report(path, err.message, 'write it with fewer nested parentheses, or in parts bound to variables ($a := ...; $b := ...)');
        return null;
      }
      if (err instanceof RangeError) {
        this.file.report(path, `the loader could not check the expression: ${err.message}`, 'write it with fewer nested parentheses, or in parts bound to variables');
        return null;
      }
      if (!(err instanceof ExpressionSyntaxError)) throw err;
      this.file.report(path, `the expression does not parse: ${err.message}`, 'check the JSONata syntax inside {% ... %}');
      return null;
    }
  }
}
