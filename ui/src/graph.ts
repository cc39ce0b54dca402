/**
 * A saga definition as a graph laid out by dagre: start, the steps in order (a parallel group
 * as a fork, its branches side by side and a join; a forEach over a group as a fork "for
 * each ..." heading a box of its steps in sequence and a join), the end, and each compensation
 * as a node whose edge points back to the step it undoes. How each step kind looks is
 * `graph-nodes.ts`; an instance's states on the nodes are `graph-state.ts`. Pure computation,
 * no DOM: tests run it in Node.
 */
import dagre from '@dagrejs/dagre';
import type { DefinitionDetail, StepDetail, StepDocument } from '../../engine/api/index.js';
import { loopNote, shortExpr, stepNode, undoNode, type NodeKind, type NodeSpec } from './graph-nodes.js';
import { nodeStatuses, type NodeStatus } from './graph-state.js';

export { PIVOT_NOTE, type NodeKind, type NodeSpec } from './graph-nodes.js';

/** A laid-out node: centre `x`, `y` and size, in SVG units; with an instance, its state there. */
export interface GraphNode extends NodeSpec {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  /** On an instance's page: the step's state there (and its progress, `3 of 5 done`); else null. */
  readonly status: NodeStatus | null;
}

/** `next`: the forward order; `undo`: drawn from a compensation back to its step. */
export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: 'next' | 'undo';
  readonly label: string | null;
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

/** The box drawn around a forEach group: its steps with their compensations, and its join; its fork heads it. */
export interface GraphBox {
  /** The forEach step's name. */
  readonly loop: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface Graph {
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
  readonly boxes: GraphBox[];
  readonly width: number;
  readonly height: number;
}

interface EdgeSpec { from: string; to: string; kind: GraphEdge['kind']; label: string | null }

const CHAR_W = 7.2;
/** The second and third lines are set smaller than the label. */
const SMALL = 0.88;
const NODE_H = 40;
const LINE_H = 14;
const BOX_PAD = 10;

/** Node width for its text: the label, its note, and its progress on an instance's page. */
function widthOf(n: NodeSpec, status: NodeStatus | null): number {
  if (n.kind === 'start' || n.kind === 'end') return 64;
  const chars = Math.max(n.label.length, (n.note?.length ?? 0) * SMALL, (status?.progress?.length ?? 0) * SMALL);
  if (n.kind === 'fork' || n.kind === 'join') return Math.max(90, chars * CHAR_W + 24);
  return Math.min(360, Math.max(120, chars * CHAR_W + 28));
}

function heightOf(n: NodeSpec, status: NodeStatus | null): number {
  if (n.kind === 'start' || n.kind === 'end') return 28;
  const lines = 1 + (n.note === null ? 0 : 1) + (status === null || status.progress === null ? 0 : 1);
  return lines <= 2 ? NODE_H : NODE_H + LINE_H;
}

const whenLabel = (when: string | null) => (when === null ? null : `when ${when}`);

/** Pure: the nodes and edges of a definition, before layout. */
export function graphOf(def: DefinitionDetail): { nodes: NodeSpec[]; edges: EdgeSpec[] } {
  const node = (id: string, kind: NodeKind, label: string, extra: Partial<NodeSpec> = {}): NodeSpec =>
    ({ id, kind, label, note: null, title: label, step: null, pivot: false, when: null, child: null, loop: null, ...extra });
  const nodes: NodeSpec[] = [node('start', 'start', 'start')];
  const edges: EdgeSpec[] = [];
  const undos: NodeSpec[] = [];
  const link = (from: readonly string[], to: string, label: string | null = null) => {
    for (const f of from) edges.push({ from: f, to, kind: 'next', label });
  };
  /** Draws `steps` one after the other from `prev`; returns the last node's id. */
  const sequence = (prev: string, steps: readonly StepDetail[], loop: string | null): string => {
    let tail = prev;
    for (const s of steps) {
      const n = stepNode(s, loop);
      nodes.push(n);
      link([tail], n.id, whenLabel(n.when));
      const u = undoNode(s, loop);
      if (u !== null) undos.push(u);
      tail = n.id;
    }
    return tail;
  };
  let tails: string[] = ['start'];
  for (const stage of def.steps) {
    const when = shortExpr(stage.when);
    if (stage.kind === 'parallel') {
      const fork = `fork:${stage.name}`;
      const join = `join:${stage.name}`;
      nodes.push(node(fork, 'fork', `${stage.name} (parallel)`, { when, title: `${stage.name}: its branches run at once` }));
      link(tails, fork, whenLabel(when));
      const ends = (stage.branches ?? []).map((branch) => sequence(fork, branch, null));
      nodes.push(node(join, 'join', `${stage.name} done`, { title: `${stage.name}: every branch done` }));
      link(ends, join);
      tails = [join];
    } else if (stage.kind === 'forEach' && stage.steps !== undefined) {
      const fork = `fork:${stage.name}`;
      const join = `join:${stage.name}`;
      const note = loopNote(stage);
      nodes.push(node(fork, 'fork', stage.name, {
        note, when, step: stage.name, loop: stage.name,
        title: `${stage.name}: ${note}${stage.maxItems === undefined ? '' : ` (at most ${stage.maxItems} elements)`}, each element running the steps below in order`,
      }));
      link(tails, fork, whenLabel(when));
      const end = sequence(fork, stage.steps, stage.name);
      nodes.push(node(join, 'join', `${stage.name} done`, { step: stage.name, loop: stage.name, title: `${stage.name}: every element done` }));
      link([end], join);
      tails = [join];
    } else {
      tails = [sequence(tails[0] ?? 'start', [stage], null)];
    }
  }
  nodes.push(node('end', 'end', 'end'));
  link(tails, 'end');
  for (const u of undos) {
    nodes.push(u);
    edges.push({ from: u.id, to: `step:${u.step ?? ''}`, kind: 'undo', label: null });
  }
  return { nodes, edges };
}

/**
 * The bounding box of each forEach group's steps, their compensations and its join, padded.
 * Its fork heads the box from above: the compensation of the step before the group is laid
 * out beside the fork, and would be inside a box drawn around it.
 */
function boxesOf(nodes: readonly GraphNode[]): GraphBox[] {
  const loops = [...new Set(nodes.flatMap((n) => (n.loop === null ? [] : [n.loop])))];
  return loops.map((loop) => {
    const members = nodes.filter((n) => n.loop === loop && n.kind !== 'fork');
    const left = Math.min(...members.map((n) => n.x - n.width / 2)) - BOX_PAD;
    const top = Math.min(...members.map((n) => n.y - n.height / 2)) - BOX_PAD;
    const right = Math.max(...members.map((n) => n.x + n.width / 2)) + BOX_PAD;
    const bottom = Math.max(...members.map((n) => n.y + n.height / 2)) + BOX_PAD;
    return { loop, x: left, y: top, width: right - left, height: bottom - top };
  });
}

/**
 * Pure: the definition's graph laid out top to bottom by dagre; with an instance's steps, each
 * node carries the state of its step there (a forEach node its elements' progress).
 */
export function layoutDefinition(def: DefinitionDetail, steps?: readonly StepDocument[]): Graph {
  const { nodes, edges } = graphOf(def);
  const statuses = steps === undefined ? new Map<string, NodeStatus>() : nodeStatuses(nodes, steps);
  const statusOf = (id: string) => statuses.get(id) ?? null;
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: 'TB', align: 'UL', nodesep: 28, ranksep: 36, edgesep: 12, marginx: 12 + BOX_PAD, marginy: 12 + BOX_PAD });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: widthOf(n, statusOf(n.id)), height: heightOf(n, statusOf(n.id)) });
  edges.forEach((e, i) => {
    // A compensation is laid out below its step (edge step -> undo) and drawn the other way,
    // so the arrow points back at what it undoes without pulling the step below it.
    const [v, w] = e.kind === 'undo' ? [e.to, e.from] : [e.from, e.to];
    g.setEdge(v, w, {
      weight: e.kind === 'undo' ? 1 : 4, minlen: 1,
      ...(e.label === null ? {} : { label: e.label, width: e.label.length * 6, height: 14 }),
    }, `e${i}`);
  });
  dagre.layout(g);
  const laidNodes = nodes.map((n): GraphNode => {
    const p = g.node(n.id);
    return { ...n, x: p.x, y: p.y, width: p.width, height: p.height, status: statusOf(n.id) };
  });
  const laidEdges = edges.map((e, i): GraphEdge => {
    const [v, w] = e.kind === 'undo' ? [e.to, e.from] : [e.from, e.to];
    const pts = (g.edge(v, w, `e${i}`).points ?? []).map((p) => ({ x: p.x, y: p.y }));
    return { ...e, points: e.kind === 'undo' ? pts.reverse() : pts };
  });
  const size = g.graph();
  return { nodes: laidNodes, edges: laidEdges, boxes: boxesOf(laidNodes), width: size.width ?? 0, height: size.height ?? 0 };
}
