/**
 * A tiny per-request batch loader (the DataLoader idea in a few lines): every `load(key)` issued
 * before the event loop turns is collected and fetched with ONE `batch(keys)` call, and results
 * are cached for the request. Subscriptions use `cache: false` so a long-lived operation never
 * serves stale rows.
 */
export interface Loader<K, V> {
  load(key: K): Promise<V>;
  loadMany(keys: readonly K[]): Promise<V[]>;
}

interface Batch<K, V> {
  keys: Set<K>;
  result: Promise<Map<K, V>>;
}

export function makeLoader<K, V>(batch: (keys: K[]) => Promise<Map<K, V>>, options: { cache?: boolean; missing: V }): Loader<K, V> {
  const cache = new Map<K, Promise<V>>();
  let pending: Batch<K, V> | null = null;

  const open = (): Batch<K, V> => {
    const b: Batch<K, V> = { keys: new Set(), result: Promise.resolve(new Map()) };
    // GraphQL calls sibling field resolvers synchronously; setImmediate lets all of them enqueue.
    b.result = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      if (pending === b) pending = null;
      return batch([...b.keys]);
    });
    return b;
  };

  const load = (key: K): Promise<V> => {
    const cached = cache.get(key);
    if (cached) return cached;
    const b = (pending ??= open());
    b.keys.add(key);
    const promise = b.result.then((m) => (m.has(key) ? m.get(key)! : options.missing));
    if (options.cache !== false) cache.set(key, promise);
    return promise;
  };
  return { load, loadMany: (keys) => Promise.all(keys.map(load)) };
}
