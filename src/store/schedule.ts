/**
 * Who gets the database next, and how much of it one API request may hold.
 *
 * - `makeScheduler`: statements wait for one of `slots` connections in two lanes. The executor's
 *   (claims, heartbeats, result writes) are served first, in order; API statements in order of
 *   arrival. PGlite, with its one connection, puts every statement through one (db.ts).
 * - `makeLimit`: at most n calls in flight, the rest queued in order. One per API request
 *   (store/per-request.ts `forRequest`) bounds what a request fanning out into thousands of reads
 *   (an alias flood) holds at once, so queues stay short and everyone else's turn comes soon.
 *
 * Requests are told apart by giving each its own limit, not by AsyncLocalStorage: on Node 20 an
 * AsyncLocalStorage, once used, hooks every promise of the process (measured: an `await` costs
 * 2.3 times as much), and the executor's hot path is made of promises.
 */
export type Release = () => void;

export interface Scheduler {
  /** Waits for a connection slot. `first`: the executor's lane. Call the release exactly once. */
  acquire(first?: boolean): Promise<Release>;
  /** acquire, run `work`, release. */
  run<T>(first: boolean, work: () => Promise<T>): Promise<T>;
  /** Statements waiting now (diagnostics and tests). */
  waiting(): number;
}

/**
 * Executor statements served in a row while API statements wait, before one API statement goes:
 * the executor's lane is first, but a node busy writing results must still answer its API.
 */
export const FIRST_IN_A_ROW = 8;

export interface SchedulerOptions {
  slots: number;
  /**
   * Hand a freed slot over on the next turn of the event loop (setImmediate) rather than at once.
   * For PGlite: its statements run on the main thread and resolve in microtasks, so handing over
   * at once chains one statement into the next without ever polling I/O: measured, three floods
   * sent at once reached the server one after the other, each only once the previous one ended.
   */
  yieldToIo?: boolean;
}

export function makeScheduler({ slots, yieldToIo = false }: SchedulerOptions): Scheduler {
  let free = slots;
  let inARow = 0;
  /** A hand-over is scheduled: nobody may take a free slot past the waiters meanwhile. */
  let handing = false;
  const first: (() => void)[] = [];
  const api: (() => void)[] = [];

  const release = (): Release => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      free++;
      if (!yieldToIo) return dispatch();
      if (handing) return;
      handing = true;
      setImmediate(() => {
        handing = false;
        dispatch();
      });
    };
  };

  function dispatch() {
    while (free > 0 && (first.length > 0 || api.length > 0)) {
      const executor = first.length > 0 && (inARow < FIRST_IN_A_ROW || api.length === 0);
      inARow = executor ? inARow + 1 : 0;
      free--;
      (executor ? first : api).shift()!();
    }
  }

  function acquire(executor = false): Promise<Release> {
    // A free slot with nobody waiting (and no hand-over pending): take it.
    if (free > 0 && !handing && first.length === 0 && api.length === 0) {
      free--;
      return Promise.resolve(release());
    }
    return new Promise((resolve) => (executor ? first : api).push(() => resolve(release())));
  }

  return {
    acquire,
    async run(executor, work) {
      const done = await acquire(executor);
      try {
        return await work();
      } finally {
        done();
      }
    },
    waiting: () => first.length + api.length,
  };
}

/** At most `n` calls of the returned function's `work` in flight; the rest wait in order. */
export function makeLimit(n: number): <T>(work: () => Promise<T>) => Promise<T> {
  let running = 0;
  const queue: (() => void)[] = [];
  return async (work) => {
    if (running >= n) await new Promise<void>((resolve) => queue.push(resolve));
    else running++;
    try {
      return await work();
    } finally {
      const next = queue.shift();
      if (next) next();
      else running--;
    }
  };
}
