/**
 * Subscription plumbing over the bus: TASK_EVENTS carries batches (TaskEvent[]); these helpers
 * flatten and filter them into one event per GraphQL `next`, optionally after some initial values,
 * and stop cleanly when the client goes away (the Repeater's stop closes the bus subscription even
 * while it is waiting for the next message).
 */
import { Repeater } from '@graphql-yoga/subscription';

/**
 * Starts iterating now. Bus subscriptions are lazy (they attach on the first `next()`); resolvers
 * subscribe eagerly BEFORE reading the current state, so no event falls between the two.
 */
export function eager<T>(iterable: AsyncIterable<T>): AsyncIterator<T> {
  const it = iterable[Symbol.asyncIterator]();
  let first: Promise<IteratorResult<T>> | null = it.next();
  return {
    next: () => {
      const p = first ?? it.next();
      first = null;
      return p;
    },
    return: async (value?: unknown) => (it.return ? it.return(value) : { done: true as const, value: undefined }),
  };
}

/** Something that ends a live stream: `ended` resolves when it happens; `close` lets go of what it listens to. */
export interface EndSignal {
  ended: Promise<void>;
  close(): Promise<unknown>;
}

/** Ends when a batch of `it` holds a value passing `match` (e.g. a deleted task's id on TASK_DELETED). */
export function endsWhen<T>(it: AsyncIterator<T[]>, match: (value: T) => boolean): EndSignal {
  const ended = (async () => {
    for (let next = await it.next(); !next.done; next = await it.next()) if (next.value.some(match)) return;
  })();
  return { ended, close: async () => it.return?.() };
}

/** A live stream that can always be ended (graphql-js and the resolvers call `return`). */
export interface Live<T> extends AsyncIterableIterator<T> {
  return(): Promise<IteratorResult<T>>;
  throw(err: unknown): Promise<IteratorResult<T>>;
}

/**
 * One value per item of the batches of `it` that pass `keep`; ends after a value passing `until`,
 * or when `end` happens. Pull-driven: the next batch is read only once the last one's values are
 * taken, so a slow reader holds back the bus subscription (which queues the batches), not a copy
 * here. A value costs an array shift, not a Repeater push (its promises and round trips were
 * ~6 µs per delivered event).
 */
export function flatten<T>(it: AsyncIterator<T[]>, keep: (value: T) => boolean, options: { initial?: T[]; until?: (value: T) => boolean; end?: EndSignal } = {}): Live<T> {
  const queue: T[] = [];
  let cleanup: Promise<unknown> | null = null;
  /** Wakes a read waiting for the next batch (set only while one waits). */
  let wake: (() => void) | null = null;
  /** Nothing more is read: what is queued is still delivered, then the end. Resolves once the sources are let go. */
  const finish = (): Promise<unknown> => {
    if (!cleanup) {
      cleanup = Promise.all([it.return?.(), options.end?.close()]).catch(() => {});
      wake?.();
    }
    return cleanup;
  };
  for (const value of options.initial ?? []) {
    queue.push(value);
    if (options.until?.(value)) {
      void finish();
      break;
    }
  }
  void options.end?.ended.then(finish);

  const done = (): IteratorReturnResult<undefined> => ({ done: true, value: undefined });
  const take = (): IteratorResult<T> => (queue.length > 0 ? { done: false, value: queue.shift()! } : done());
  const ENDED = Symbol('ended');

  /** The next batch, or ENDED once finish() is called: a fresh promise per read, so none outlives it. */
  const nextBatch = () =>
    new Promise<IteratorResult<T[]> | typeof ENDED>((resolve, reject) => {
      wake = () => resolve(ENDED);
      it.next().then(resolve, reject);
    }).finally(() => (wake = null));

  async function read(): Promise<IteratorResult<T>> {
    try {
      while (queue.length === 0 && !cleanup) {
        const batch = await nextBatch();
        if (batch === ENDED || batch.done) void finish();
        else
          for (const value of batch.value) {
            if (!keep(value)) continue;
            queue.push(value);
            if (options.until?.(value)) {
              void finish();
              break;
            }
          }
      }
    } catch (err) {
      void finish();
      queue.length = 0;
      throw err;
    }
    return take();
  }

  // Reads one at a time, in call order: a next() while one waits takes the value after it.
  let reads = 0;
  let last: Promise<unknown> = Promise.resolve();
  const next = (): Promise<IteratorResult<T>> => {
    if (reads === 0 && queue.length > 0) return Promise.resolve(take());
    reads++;
    const result = last.then(() => (queue.length > 0 ? take() : read())).finally(() => reads--);
    last = result.catch(() => {});
    return result;
  };

  return {
    next,
    return: async () => {
      queue.length = 0;
      await finish();
      return done();
    },
    throw: async (err: unknown) => {
      queue.length = 0;
      await finish();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * A stream that can hand its values to a listener instead of being read: `stream[PUSH](fn)` makes
 * it call `fn` with each value in the publisher's own call from then on (the values queued before
 * first). The shared feeds (server/ws-shared.ts) take it so: an event is executed and written
 * before `publish` returns, with no promise per event.
 */
export const PUSH = Symbol('push');
export interface Pushed<T> extends Live<T> {
  [PUSH](listener: (value: T) => void): void;
}
export const isPushed = (stream: object): stream is Pushed<unknown> => PUSH in stream;

/** Values a pushed stream holds for a reader that does not keep up; past them it fails. */
export const PUSHED_QUEUE_MAX = 10_000;

/**
 * One value per item of the batches `listen` hears that pass `keep`, from this call on: pushed to
 * a listener (PUSH), or queued for reads (a reader that leaves more than `queueMax` unread fails
 * with an error saying so rather than miss events). Ends only when returned, which stops listening.
 */
export function pushed<T>(listen: (onBatch: (batch: T[]) => void) => () => void, keep: (value: T) => boolean, queueMax = PUSHED_QUEUE_MAX): Pushed<T> {
  const queue: T[] = [];
  let reader: { resolve(r: IteratorResult<T>): void; reject(err: unknown): void } | null = null;
  let listener: ((value: T) => void) | null = null;
  let failure: Error | null = null;
  let stopped = false;
  const done = (): IteratorReturnResult<undefined> => ({ done: true, value: undefined });

  const unlisten = listen((batch) => {
    for (const value of batch) {
      if (stopped || !keep(value)) continue;
      if (listener) listener(value);
      else if (reader) {
        const r = reader;
        reader = null;
        r.resolve({ done: false, value });
      } else if (queue.length < queueMax) queue.push(value);
      else {
        failure = new Error(`subscription too slow: more than ${queueMax} events unread`);
        stop();
      }
    }
  });

  function stop() {
    if (stopped) return;
    stopped = true;
    unlisten();
    const r = reader;
    reader = null;
    if (r) (failure && queue.length === 0 ? r.reject(failure) : r.resolve(done()));
  }

  const stream: Pushed<T> = {
    [PUSH](fn) {
      listener = fn;
      for (const value of queue.splice(0)) fn(value);
    },
    next() {
      if (queue.length > 0) return Promise.resolve({ done: false, value: queue.shift()! });
      if (stopped) return failure ? Promise.reject(failure) : Promise.resolve(done());
      return new Promise((resolve, reject) => (reader = { resolve, reject }));
    },
    async return() {
      queue.length = 0;
      stop();
      return done();
    },
    async throw(err: unknown) {
      queue.length = 0;
      stop();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return stream;
}

/**
 * Pushes `produce()` now and every `intervalMs` until the client goes away. A failing first
 * value fails the subscription; a later failure (a database blip) only skips that tick.
 */
export function every<T>(intervalMs: number, produce: () => Promise<T>): Repeater<T> {
  return new Repeater<T>(async (push, stop) => {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    let pushed = false;
    const tick = async () => {
      try {
        await push(await produce());
        pushed = true;
      } catch (err) {
        if (!pushed) return stop(err);
      }
      if (!done) timer = setTimeout(tick, intervalMs);
    };
    void tick();
    await stop;
    done = true;
    clearTimeout(timer);
  });
}
