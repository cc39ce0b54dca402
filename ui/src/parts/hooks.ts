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
 * Calls `load` at once and then every `everyMs` (0: once) while the document is visible and
 * the last call has been answered; a change of `key` starts over. Answers that arrive after a
 * newer call started (a reload, a new key) are dropped.
 */
export function usePolled<T>(load: () => Promise<T>, key: string, everyMs: number): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const seq = useRef(0);
  /** The call whose answer is awaited, 0 when none: a poll does not start another on top of it. */
  const pending = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const run = useCallback(() => {
    const mine = ++seq.current;
    pending.current = mine;
    const done = (): void => {
      if (pending.current === mine) pending.current = 0;
    };
    loadRef.current().then(
      (d) => {
        done();
        if (mine !== seq.current) return;
        setData(d);
        setError(null);
      },
      (err: unknown) => {
        done();
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
    // A poll skips its turn while the last call is unanswered: a slow answer (a large instance)
    // is shown, not dropped for a newer call, and requests do not pile up on the server.
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible' && pending.current === 0) run();
    }, everyMs);
    return () => {
      clearInterval(timer);
      seq.current++;
      pending.current = 0;
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
