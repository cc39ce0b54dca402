import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node } from 'yaml';
import type { DefinitionPath } from './errors.js';

/** A 1-based line and column in a file. */
export interface SourcePosition {
  line: number;
  column: number;
}

/** Maps document paths to the line and column of their YAML nodes. */
export class SourceMap {
  constructor(
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  /**
   * Position of the node at `path` (of its key when `at` is `key`); a path that goes further
   * than the document falls back to the deepest node that exists.
   */
  position(path: DefinitionPath, at: 'value' | 'key' = 'value'): SourcePosition {
    let node: unknown = this.doc.contents;
    let best = this.offsetOf(node) ?? 0;
    for (const [i, segment] of path.entries()) {
      node = this.resolve(node);
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(segment));
        if (pair === undefined) break;
        const keyOffset = this.offsetOf(pair.key);
        if (i === path.length - 1 && at === 'key' && keyOffset !== null) return this.toPosition(keyOffset);
        next = pair.value ?? null;
        best = this.offsetOf(next) ?? keyOffset ?? best;
      } else if (isSeq(node)) {
        next = node.items[Number(segment)];
        if (next === undefined) break;
        best = this.offsetOf(next) ?? best;
      } else {
        break;
      }
      node = next;
    }
    return this.toPosition(best);
  }

  /** Position of a character offset in the file. */
  toPosition(offset: number): SourcePosition {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  private resolve(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  private offsetOf(node: unknown): number | null {
    const range = (node as Node | null)?.range;
    return Array.isArray(range) ? range[0] : null;
  }
}
