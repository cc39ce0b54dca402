/**
 * A definition's graph drawn as SVG from dagre's layout: a node per step (a forEach as a stack,
 * a delay with a clock, a child saga as a framed box linking to it), dashed edges from each
 * compensation back to its step, a box around a forEach group; on an instance's page each node
 * coloured by its step's state there.
 */
import type { DefinitionDetail, StepDocument } from '../../../engine/api/index.js';
import { layoutDefinition, type GraphBox, type GraphNode } from '../graph.js';
import { href } from '../router.js';

function path(points: readonly { x: number; y: number }[]): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
}

const STEP_KINDS = new Set(['step', 'wait', 'loop', 'delay', 'child']);
const LINE = 14;

/** The shape behind a node's text, by kind: cards stacked for a loop, side bars for a child saga, a clock for a delay. */
function Shape({ n }: { n: GraphNode }) {
  const x = n.x - n.width / 2;
  const y = n.y - n.height / 2;
  const rect = (dx = 0, dy = 0, cls?: string) =>
    <rect class={cls} x={x + dx} y={y + dy} width={n.width} height={n.height} rx={n.kind === 'fork' || n.kind === 'join' ? 2 : 6} />;
  switch (n.kind) {
    case 'start':
    case 'end':
      return <rect x={x} y={y} width={n.width} height={n.height} rx={n.height / 2} />;
    case 'loop':
      return <>{rect(6, 6, 'behind')}{rect(3, 3, 'behind')}{rect()}</>;
    case 'child':
      return <>{rect()}<path class="bars" d={`M${x + 7},${y} V${y + n.height} M${x + n.width - 7},${y} V${y + n.height}`} /></>;
    case 'delay': {
      const cx = x + 15;
      return <>{rect()}<circle class="clock" cx={cx} cy={n.y} r={7} /><path class="clock-hands" d={`M${cx},${n.y - 5} V${n.y} H${cx + 4}`} /></>;
    }
    default:
      return rect();
  }
}

function titleOf(n: GraphNode): string {
  const when = n.when === null ? '' : `, when ${n.when}`;
  const s = n.status;
  const state = s === null ? '' : ` Here: ${s.state.replace(/_/g, ' ')}${s.progress === null ? '' : `, ${s.progress}`}.`;
  return `${n.title}${n.pivot ? ` (${n.note ?? ''})` : ''}${when}.${state}`;
}

function NodeView({ n }: { n: GraphNode }) {
  const lines = ([[n.label, undefined], [n.note, 'sub'], [n.status?.progress ?? null, 'progress']] as const)
    .filter((l): l is readonly [string, 'sub' | 'progress' | undefined] => l[0] !== null);
  const first = n.y + 4 - ((lines.length - 1) * LINE) / 2;
  const inset = n.kind === 'delay' ? 8 : 0;
  const body = (
    <g class={`node ${n.kind}${n.pivot ? ' pivot' : ''}`} data-node={n.id} data-step={STEP_KINDS.has(n.kind) ? n.step ?? undefined : undefined}
      data-loop={n.kind === 'fork' && n.loop !== null ? n.loop : undefined} data-state={n.status?.state}>
      <title>{titleOf(n)}</title>
      <Shape n={n} />
      {lines.map(([text, cls], i) => <text class={cls} x={n.x + inset} y={first + i * LINE} text-anchor="middle">{text}</text>)}
    </g>
  );
  if (n.kind !== 'child' || n.child === null) return body;
  // On an instance's page the child instance itself; else the child saga's definition.
  const to = n.status?.childInstance ?? null;
  return <a class="node-link" href={to === null ? href({ page: 'definition', name: n.child, hash: null }) : href({ page: 'instance', id: to })}>{body}</a>;
}

function BoxView({ b }: { b: GraphBox }) {
  return (
    <g class="loop-box" data-box={b.loop}>
      <rect class="behind" x={b.x + 5} y={b.y + 5} width={b.width} height={b.height} rx={10} />
      <rect x={b.x} y={b.y} width={b.width} height={b.height} rx={10} />
    </g>
  );
}

/** What a screen reader hears for a step node: its name, what it does, its state here. */
function spoken(n: GraphNode): string {
  const extra = [n.note, n.status?.state.replace(/_/g, ' ') ?? null, n.status?.progress ?? null].filter((x) => x !== null);
  return extra.length === 0 ? n.label : `${n.step ?? n.label} (${extra.join(', ')})`;
}

/** The graph, scaled to the width available (it scrolls when too small to read); with `steps`, an instance's states on it. */
export function GraphView({ def, steps }: { def: DefinitionDetail; steps?: readonly StepDocument[] }) {
  const g = layoutDefinition(def, steps);
  const children = [...new Set(g.nodes.filter((n) => n.kind === 'child').map((n) => n.child ?? ''))];
  return (
    <>
      <div class="graph-wrap" tabIndex={0} aria-label={`Graph of ${def.name}`}>
        <svg class="graph" viewBox={`0 0 ${Math.ceil(g.width)} ${Math.ceil(g.height)}`} width={Math.ceil(g.width)} height={Math.ceil(g.height)} role="img"
          aria-label={`${def.name}: ${g.nodes.filter((n) => STEP_KINDS.has(n.kind)).map(spoken).join(', then ')}`}>
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
            </marker>
            <marker id="arrow-undo" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" class="arrowhead undo" />
            </marker>
          </defs>
          {g.boxes.map((b) => <BoxView b={b} />)}
          {g.edges.map((e) => {
            const mid = e.points[Math.floor(e.points.length / 2)];
            return (
              <g class={`edge ${e.kind}`} data-edge={`${e.from}->${e.to}`}>
                <path d={path(e.points)} marker-end={e.kind === 'undo' ? 'url(#arrow-undo)' : 'url(#arrow)'} />
                {e.label === null || mid === undefined ? null : <text x={mid.x + 6} y={mid.y} class="edge-label">{e.label}</text>}
              </g>
            );
          })}
          {g.nodes.map((n) => <NodeView n={n} />)}
        </svg>
      </div>
      {children.length === 0 ? null : (
        <p class="graph-links">Child sagas: {children.map((c, i) => <>{i === 0 ? '' : ', '}<a href={href({ page: 'definition', name: c, hash: null })}>{c}</a></>)}</p>
      )}
    </>
  );
}
