/**
 * Sets `key` in `map` as its newest entry and, past `max` entries, drops the oldest: the
 * store's in-memory caches (saved states, indexed commands) stay bounded, oldest out first.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done !== true) map.delete(oldest.value);
  }
}
