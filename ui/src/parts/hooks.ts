/** Data loading for the pages: fetch once, then poll while the page is shown, so it updates without reloading. */
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { describe } from '../api.js';

/** What a loading page shows: the last data (kept while a later poll fails), the last error. */
export interface Loaded<T> {
  readonly data: T | null;
  readonly error: string | null;
  /** Fetches again now. */
  readonly reload: () => void;
}

/**
 * Calls `load` at once and then every `everyMs` (0: once) while the document is visible; a
 * change of `key` starts over. Answers that arrive after a newer call started are dropped.
 */
export function usePolled<T>(load: () => Promise<T>, key: string, everyMs: number): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const seq = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const run = useCallback(() => {
    const mine = ++seq.current;
    loadRef.current().then(
      (d) => {
        if (mine !== seq.current) return;
        setData(d);
        setError(null);
      },
      (err: unknown) => {
        if (mine === seq.current) setError(describe(err));
      },
    );
  }, []);

  // A layout effect runs right after the render, not after the next frame: the requests leave sooner.
  useLayoutEffect(() => {
    setData(null);
    setError(null);
    run();
    if (everyMs <= 0) return () => { seq.current++; };
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') run();
    }, everyMs);
    return () => {
      clearInterval(timer);
      seq.current++;
    };
  }, [key, everyMs, run]);

  return { data, error, reload: run };
}

/** Marks the page ready once its first data is drawn: `data-ready` on <main>, and a performance mark the bench reads. */
export function useReadyMark(page: string, ready: boolean): void {
  useEffect(() => {
    if (!ready) return;
    const main = document.querySelector('main');
    if (main === null || main.dataset.ready === page) return;
    main.dataset.ready = page;
    performance.mark(`sagad-ready:${page}`);
  }, [page, ready]);
}
