/**
 * Batched result writes. Results queue up while writes are in flight and go out together in the
 * next `store.tasks.finish` call, so one transaction carries as many results as finished during
 * the previous one: no added latency when idle, large batches under load. A failed write is
 * retried (the results stay queued and their leases keep being renewed), never dropped.
 */
import type { AttemptResult, FinishedTask, Store } from '../store/types.js';
import type { AttemptTraces } from './traces.js';
import type { Logger } from './types.js';

export interface FinisherOptions {
  store: Store;
  /** Extra wait before a write so more results can join it. */
  batchMs: number;
  batchMax: number;
  /** Writes in flight at once (1 on PGlite's single connection; 2 pipelines PostgreSQL). */
  parallel: number;
  /** Called after each successful write with the results and the rows as written, by id. */
  onWritten(results: AttemptResult[], rows: Map<string, FinishedTask>): void;
  logger: Logger;
  /** The attempts' spans (traces on): each write is a span of the attempts it records. */
  traces?: AttemptTraces | null;
}

const RETRY_WRITE_MS = 500;

export type Finisher = ReturnType<typeof makeFinisher>;

export function makeFinisher({ store, batchMs, batchMax, parallel, onWritten, logger, traces }: FinisherOptions) {
  let queue: AttemptResult[] = [];
  /** Results of a failed write: it may have committed all the same (its answer lost), so they are written as possibly written. */
  const again = new WeakSet<AttemptResult>();
  const writing = new Set<AttemptResult[]>();
  let scheduled: NodeJS.Timeout | NodeJS.Immediate | null = null;
  let scheduledDelay = 0;
  let idle: (() => void)[] = [];

  let closed = false;

  function schedule(delayMs = batchMs) {
    if (closed || scheduled || writing.size >= parallel || queue.length === 0) return;
    scheduledDelay = delayMs;
    scheduled = delayMs > 0 ? setTimeout(write, delayMs) : setImmediate(write);
  }

  async function write() {
    scheduled = null;
    const batch = queue.length > batchMax ? queue.splice(0, batchMax) : queue;
    if (batch === queue) queue = [];
    writing.add(batch);
    // Another writer may take the rest right away (PostgreSQL: a second connection).
    schedule(0);
    let retryLater = false;
    traces?.writing(batch);
    try {
      const rows = await store.tasks.finish(batch, batch.some((r) => again.has(r)) ? { mayBeWritten: true } : undefined);
      traces?.written(batch);
      try {
        onWritten(batch, new Map(rows.map((r) => [r.id, r])));
      } catch (err) {
        logger.error({ err }, 'executor: publishing finished tasks failed');
      }
    } catch (err) {
      logger.error({ err, results: batch.length }, 'executor: writing results failed; retrying');
      traces?.written(batch, err);
      for (const r of batch) again.add(r);
      queue = batch.concat(queue);
      retryLater = true;
    }
    writing.delete(batch);
    if (queue.length > 0) schedule(retryLater ? RETRY_WRITE_MS : 0);
    else if (writing.size === 0) {
      const waiting = idle;
      idle = [];
      for (const resolve of waiting) resolve();
    }
  }

  return {
    add(result: AttemptResult) {
      queue.push(result);
      schedule();
    },
    /** Ids of tasks whose results are not written yet (their leases must stay alive). */
    pendingIds(): string[] {
      const ids = queue.map((r) => r.taskId);
      for (const batch of writing) for (const r of batch) ids.push(r.taskId);
      return ids;
    },
    size: () => queue.length + [...writing].reduce((n, b) => n + b.length, 0),
    /** Stops writing (after a flush that timed out): what is still queued is dropped, its leases expire. */
    close() {
      closed = true;
      if (scheduled && scheduledDelay > 0) clearTimeout(scheduled as NodeJS.Timeout);
      else if (scheduled) clearImmediate(scheduled as NodeJS.Immediate);
      scheduled = null;
      queue = [];
    },
    /** Resolves once every queued result is written (or `timeoutMs` passed): true when all were. */
    async flush(timeoutMs: number): Promise<boolean> {
      if (queue.length === 0 && writing.size === 0) return true;
      if (scheduled && scheduledDelay > 0) {
        // Write now rather than after the batching (or retry) delay.
        clearTimeout(scheduled as NodeJS.Timeout);
        scheduled = null;
        schedule(0);
      }
      let timer: NodeJS.Timeout | undefined;
      const done = await Promise.race([
        new Promise<true>((resolve) => idle.push(() => resolve(true))),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
      ]);
      clearTimeout(timer);
      return done;
    },
  };
}
