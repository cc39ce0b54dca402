/**
 * A saga definition as a graph laid out by dagre: start, the steps in order (a parallel group
 * as a fork, its branches side by side and a join), the end, and each compensation as a node
 * whose edge points back to the step it undoes. Pure computation, no DOM: tests run it in Node.
 */
import dagre from '@dagrejs/dagre';
import type { DefinitionDetail, StepDetail } from '../../engine/api/index.js';

export type NodeKind = 'start' | 'end' | 'step' | 'wait' | 'fork' | 'join' | 'undo';

/** A laid-out node: centre `x`, `y` and size, in SVG units. */
export interface GraphNode {
  readonly id: string;
  readonly kind: NodeKind;
  readonly label: string;
  /** The step this node is (or undoes); null for start, end, fork and join. */
  readonly step: string | null;
  readonly pivot: boolean;
  /** The step's `when` condition, if it has one. */
  readonly when: string | null;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** `next`: the forward order; `undo`: drawn from a compensation back to its step. */
export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: 'next' | 'undo';
  readonly label: string | null;
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface Graph {
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
  readonly width: number;
  readonly height: number;
}

type NodeSpec = Omit<GraphNode, 'x' | 'y' | 'width' | 'height'>;
interface EdgeSpec { from: string; to: string; kind: GraphEdge['kind']; label: string | null }

const CHAR_W = 7.2;
/** The second line of the pivot's node. */
export const PIVOT_NOTE = 'pivot: no undo after this';
const NODE_H = 40;

/** Node width for its text: the label, and the second line (the pivot's note, a wait's) if any. */
function widthOf(n: NodeSpec): number {
  if (n.kind === 'start' || n.kind === 'end') return 64;
  if (n.kind === 'fork' || n.kind === 'join') return Math.max(90, n.label.length * CHAR_W + 24);
  const second = n.pivot ? PIVOT_NOTE : n.kind === 'wait' ? 'waits for an event' : '';
  return Math.min(320, Math.max(120, Math.max(n.label.length, Math.min(second.length * 0.9, 40)) * CHAR_W + 28));
}

function shortWhen(source: string | null): string | null {
  if (source === null) return null;
  const s = source.replace(/^\{%\s*/, '').replace(/\s*%\}$/, '');
  return s.length > 40 ? `${s.slice(0, 39)}…` : s;
}

function leafNode(s: StepDetail): NodeSpec {
  return { id: `step:${s.name}`, kind: s.kind === 'wait' ? 'wait' : 'step', label: s.name, step: s.name, pivot: s.pivot === true, when: shortWhen(s.when) };
}

/** Pure: the nodes and edges of a definition, before layout. */
export function graphOf(def: DefinitionDetail): { nodes: NodeSpec[]; edges: EdgeSpec[] } {
  const nodes: NodeSpec[] = [{ id: 'start', kind: 'start', label: 'start', step: null, pivot: false, when: null }];
  const edges: EdgeSpec[] = [];
  let tails: string[] = ['start'];
  const leaves: StepDetail[] = [];
  const link = (from: readonly string[], to: string, label: string | null = null) => {
    for (const f of from) edges.push({ from: f, to, kind: 'next', label });
  };
  for (const stage of def.steps) {
    if (stage.kind === 'parallel') {
      const fork = `fork:${stage.name}`;
      const join = `join:${stage.name}`;
      const when = shortWhen(stage.when);
      nodes.push({ id: fork, kind: 'fork', label: `${stage.name} (parallel)`, step: null, pivot: false, when });
      link(tails, fork, when === null ? null : `when ${when}`);
      const ends: string[] = [];
      for (const branch of stage.branches ?? []) {
        let prev = fork;
        for (const leaf of branch) {
          const n = leafNode(leaf);
          nodes.push(n);
          link([prev], n.id, n.when === null ? null : `when ${n.when}`);
          leaves.push(leaf);
          prev = n.id;
        }
        ends.push(prev);
      }
      nodes.push({ id: join, kind: 'join', label: `${stage.name} done`, step: null, pivot: false, when: null });
      link(ends, join);
      tails = [join];
    } else {
      const n = leafNode(stage);
      nodes.push(n);
      link(tails, n.id, n.when === null ? null : `when ${n.when}`);
      leaves.push(stage);
      tails = [n.id];
    }
  }
  nodes.push({ id: 'end', kind: 'end', label: 'end', step: null, pivot: false, when: null });
  link(tails, 'end');
  for (const leaf of leaves) {
    const c = leaf.compensation;
    if (c === null || c === undefined) continue;
    const id = `undo:${leaf.name}`;
    nodes.push({ id, kind: 'undo', label: `undo: ${c.command.type}`, step: leaf.name, pivot: false, when: null });
    edges.push({ from: id, to: `step:${leaf.name}`, kind: 'undo', label: null });
  }
  return { nodes, edges };
}

/** Pure: the definition's graph laid out top to bottom by dagre. */
export function layoutDefinition(def: DefinitionDetail): Graph {
  const { nodes, edges } = graphOf(def);
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: 'TB', align: 'UL', nodesep: 28, ranksep: 36, edgesep: 12, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: widthOf(n), height: n.kind === 'start' || n.kind === 'end' ? 28 : NODE_H });
  edges.forEach((e, i) => {
    // A compensation is laid out below its step (edge step -> undo) and drawn the other way,
    // so the arrow points back at what it undoes without pulling the step below it.
    const [v, w] = e.kind === 'undo' ? [e.to, e.from] : [e.from, e.to];
    g.setEdge(v, w, { weight: e.kind === 'undo' ? 1 : 4, minlen: 1, ...(e.label === null ? {} : { label: e.label, width: e.label.length * 6, height: 14 }) }, `e${i}`);
  });
  dagre.layout(g);
  const laidNodes = nodes.map((n): GraphNode => {
    const p = g.node(n.id);
    return { ...n, x: p.x, y: p.y, width: p.width, height: p.height };
  });
  const laidEdges = edges.map((e, i): GraphEdge => {
    const [v, w] = e.kind === 'undo' ? [e.to, e.from] : [e.from, e.to];
    const pts = (g.edge(v, w, `e${i}`).points ?? []).map((p) => ({ x: p.x, y: p.y }));
    return { ...e, points: e.kind === 'undo' ? pts.reverse() : pts };
  });
  const size = g.graph();
  return { nodes: laidNodes, edges: laidEdges, width: size.width ?? 0, height: size.height ?? 0 };
}
