/** A definition's graph drawn as SVG from dagre's layout: nodes per step, dashed edges from each compensation back to its step. */
import type { DefinitionDetail } from '../../../engine/api/index.js';
import { layoutDefinition, PIVOT_NOTE, type GraphNode } from '../graph.js';

function path(points: readonly { x: number; y: number }[]): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
}

function NodeView({ n }: { n: GraphNode }) {
  const x = n.x - n.width / 2;
  const y = n.y - n.height / 2;
  // A condition is the label of the edge into the step; the pivot's note goes inside its node.
  const second = n.pivot ? PIVOT_NOTE : n.kind === 'wait' ? 'waits for an event' : null;
  const shape = n.kind === 'start' || n.kind === 'end'
    ? <rect x={x} y={y} width={n.width} height={n.height} rx={n.height / 2} />
    : <rect x={x} y={y} width={n.width} height={n.height} rx={n.kind === 'fork' || n.kind === 'join' ? 2 : 6} />;
  return (
    <g class={`node ${n.kind}${n.pivot ? ' pivot' : ''}`} data-node={n.id} data-step={n.kind === 'step' || n.kind === 'wait' ? n.step ?? undefined : undefined}>
      <title>{`${n.kind === 'undo' ? `compensation of ${n.step ?? ''}` : n.label}${second === null ? '' : ` (${second})`}${n.when === null ? '' : `, when ${n.when}`}`}</title>
      {shape}
      <text x={n.x} y={second === null ? n.y + 4 : n.y - 3} text-anchor="middle">{n.label}</text>
      {second === null ? null : <text class="sub" x={n.x} y={n.y + 12} text-anchor="middle">{second}</text>}
    </g>
  );
}

/** The graph, scaled to the width available (it scrolls when too small to read). */
export function GraphView({ def }: { def: DefinitionDetail }) {
  const g = layoutDefinition(def);
  return (
    <div class="graph-wrap" tabIndex={0} aria-label={`Graph of ${def.name}`}>
      <svg class="graph" viewBox={`0 0 ${Math.ceil(g.width)} ${Math.ceil(g.height)}`} width={Math.ceil(g.width)} height={Math.ceil(g.height)} role="img"
        aria-label={`${def.name}: ${g.nodes.filter((n) => n.kind === 'step' || n.kind === 'wait').map((n) => n.label).join(', then ')}`}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
          </marker>
          <marker id="arrow-undo" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrowhead undo" />
          </marker>
        </defs>
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
  );
}
