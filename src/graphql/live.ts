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

/**
 * One value per item of the batches of `it` that pass `keep`; ends after a value passing `until`,
 * or when `end` happens.
 */
export function flatten<T>(it: AsyncIterator<T[]>, keep: (value: T) => boolean, options: { initial?: T[]; until?: (value: T) => boolean; end?: EndSignal } = {}): Repeater<T> {
  return new Repeater<T>(async (push, stop) => {
    let stopped = false;
    void stop.then(() => {
      stopped = true;
      void it.return?.();
      void options.end?.close();
    });
    void options.end?.ended.then(() => stop());
    const stopSignal = stop.then(() => ({ done: true as const, value: undefined }));
    try {
      for (const value of options.initial ?? []) {
        await push(value);
        if (options.until?.(value)) return stop();
      }
      while (!stopped) {
        const next = await Promise.race([it.next(), stopSignal]);
        if (next.done) break;
        for (const value of next.value) {
          if (!keep(value)) continue;
          await push(value);
          if (options.until?.(value)) return stop();
        }
      }
    } finally {
      stop();
      await it.return?.();
    }
  });
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
