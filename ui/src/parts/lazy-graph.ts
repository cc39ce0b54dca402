/** The graph view with dagre, loaded only by the pages that draw a graph: the other pages start without it. */
import { useEffect, useState } from 'preact/hooks';
import type { GraphView } from './graph-view.js';

export type GraphViewFn = typeof GraphView;

/** The graph view once its chunk has loaded; null until then. */
export function useGraphView(): GraphViewFn | null {
  const [view, setView] = useState<GraphViewFn | null>(null);
  useEffect(() => {
    void import('./graph-view.js').then((m) => setView(() => m.GraphView));
  }, []);
  return view;
}
