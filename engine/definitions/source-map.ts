import { isAlias, isCollection, isMap, isNode, isPair, isScalar, isSeq } from 'yaml';
import type { Alias, Document, LineCounter, Node } from 'yaml';
import type { DefinitionPath } from './errors.js';

/** A 1-based line and column in a file. */
export interface SourcePosition {
  line: number;
  column: number;
}

/** Maps document paths to the line and column of their YAML nodes. */
export class SourceMap {
  /** Each alias's node, found in one walk of the document when the first alias is met. */
  private aliases: Map<Alias, Node | undefined> | null = null;

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

  /**
   * The node an alias repeats. yaml's own `resolve` walks the whole document for every call,
   * which made a file with thousands of errors reached through aliases take minutes.
   */
  private resolve(node: unknown): unknown {
    if (!isAlias(node)) return node;
    this.aliases ??= aliasTargets(this.doc);
    return this.aliases.get(node);
  }

  private offsetOf(node: unknown): number | null {
    const range = (node as Node | null)?.range;
    return Array.isArray(range) ? range[0] : null;
  }
}

/**
 * Pure: the node each alias of `doc` repeats: the last node before it, in document order
 * (a mapping's key before its value, a node before its contents), that has the alias's anchor,
 * as yaml resolves it; an anchor may be given again further on. Without recursion: a
 * document may nest deeper than the stack.
 */
export function aliasTargets(doc: Document.Parsed): Map<Alias, Node | undefined> {
  const anchors = new Map<string, Node>();
  const targets = new Map<Alias, Node | undefined>();
  const pending: unknown[] = [doc.contents];
  while (pending.length > 0) {
    const item = pending.pop();
    if (isPair(item)) {
      pending.push(item.value, item.key);
      continue;
    }
    if (!isNode(item)) continue;
    if (isAlias(item)) {
      targets.set(item, anchors.get(item.source));
      continue;
    }
    if (item.anchor !== undefined) anchors.set(item.anchor, item);
    if (isCollection(item)) for (let i = item.items.length - 1; i >= 0; i--) pending.push(item.items[i]);
  }
  return targets;
}
