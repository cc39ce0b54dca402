/**
 * Point reads asked in the same turn of the event loop go to the database as one query for
 * all their keys: at concurrency 100 a step's read then costs a share of one round trip, as its
 * write does. Every caller gets the answer of a query sent after it asked, so it sees every
 * write that had committed by then.
 */
export function coalesced<V>(fetch: (keys: string[]) => Promise<Map<string, V>>, maxKeys = 256): (key: string) => Promise<V | undefined> {
  let waiting = new Map<string, { resolve: (v: V | undefined) => void; reject: (e: unknown) => void }[]>();
  let scheduled = false;

  const flush = (): void => {
    scheduled = false;
    const all = waiting;
    waiting = new Map();
    const keys = [...all.keys()];
    for (let i = 0; i < keys.length; i += maxKeys) {
      const part = keys.slice(i, i + maxKeys);
      fetch(part).then((found) => {
        for (const k of part) for (const w of all.get(k) ?? []) w.resolve(found.get(k));
      }, (err: unknown) => {
        for (const k of part) for (const w of all.get(k) ?? []) w.reject(err);
      });
    }
  };

  return (key) => new Promise<V | undefined>((resolve, reject) => {
    let list = waiting.get(key);
    if (list === undefined) {
      list = [];
      waiting.set(key, list);
    }
    list.push({ resolve, reject });
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
}
