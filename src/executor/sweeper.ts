/**
 * The retention sweeper: every SWEEP_INTERVAL, deletes the tasks that ended longer ago than their
 * status's retention (RETAIN_SUCCEEDED / RETAIN_FAILED / RETAIN_CANCELLED; unset = kept forever),
 * their attempts, and the file bundles nothing names any more; past BLOB_GC_GRACE, deleted agents
 * with no task left and modules no agent version uses, with their blobs; folds the ledger of
 * stored task bytes (QUOTA_TASK_BYTES); then lets the database reuse the space (VACUUM).
 *
 * Work goes in batches of SWEEP_BATCH rows, one short statement each (store/retention.ts), so no
 * lock is held for long and the executor's claims interleave. Every executing node runs one;
 * `FOR UPDATE SKIP LOCKED` gives concurrent sweepers disjoint rows, and deleting a blob twice is
 * harmless. The timer is unref'ed and a sweep in progress stops between batches on `stop()`.
 */
import { RETAINED_STATUSES, type RetainedStatus } from '../domain/index.js';
import type { Store } from '../store/index.js';
import { deleteUnreferenced } from './blobs.js';
import type { Logger } from './types.js';

/** The server's retention per ended status in ms (undefined = kept forever); tenants may override it. */
export type Retention = Partial<Record<RetainedStatus, number | undefined>>;

export type SweptKind = 'tasks' | 'attempts' | 'blobs' | 'agents' | 'modules';

export interface SweeperOptions {
  store: Store;
  retention: Retention;
  intervalMs: number;
  batch: number;
  /** BLOB_GC_GRACE: how long a deleted agent or a module no version uses is kept before it goes. */
  blobGraceMs: number;
  logger: Logger;
  /** Progress as it happens (metrics), by kind. */
  onDeleted?: (kind: SweptKind, n: number) => void;
  /** The ids of each batch of tasks swept (the bus's TASK_DELETED: their live subscriptions end). */
  onTasksDeleted?: (ids: string[]) => void;
}

export type SweepCounts = Record<SweptKind, number>;

export interface Sweeper {
  start(): void;
  /** Stops the timer and waits for a sweep in progress to reach the end of its batch. */
  stop(): Promise<void>;
  /** One full sweep now (tests, benches); sweeps never overlap on one node. */
  sweep(): Promise<SweepCounts>;
}

/** Pages of the blob store's listing (each `batch` blobs) one sweep reads; the next sweep goes on from there. */
const BLOB_PAGES_PER_SWEEP = 10;

export function makeSweeper(opts: SweeperOptions): Sweeper {
  const { store, logger, batch } = opts;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<SweepCounts> | null = null;
  let stopped = false;
  /** Where the listing of the blob store goes on from (null = its start); kept across sweeps, per node. */
  let blobCursor: string | null = null;

  const count = (counts: SweepCounts, kind: SweptKind, n: number) => {
    if (n === 0) return;
    counts[kind] += n;
    opts.onDeleted?.(kind, n);
  };

  const deleteBlobs = (digests: string[], counts: SweepCounts) => deleteUnreferenced(store, digests, (n) => count(counts, 'blobs', n));

  /**
   * Blobs nothing will read again, past the grace: deleted agents with no task left (their
   * versions with them), then modules no version uses (uploaded and never registered, or those
   * agents' modules) with their blobs, then any blob older than the grace that no task, attempt
   * or module names.
   */
  async function collectGarbage(before: Date, counts: SweepCounts) {
    for (let full = true; full && !stopped; ) {
      const got = await store.retention.forgetDeletedAgents(before, batch);
      count(counts, 'agents', got.agents);
      full = got.agents === batch;
    }
    for (let full = true; full && !stopped; ) {
      const digests = await store.retention.forgetUnusedModules(before, batch);
      count(counts, 'modules', digests.length);
      await deleteBlobs(digests, counts);
      full = digests.length === batch;
    }
    // Blobs no row names at all (a submit refused after its files were stored, an output whose
    // result write never landed): read the store's listing a few pages a sweep, round and round.
    for (let page = 0; page < BLOB_PAGES_PER_SWEEP && !stopped; page++) {
      const listed = await store.blobs.list(blobCursor, batch);
      blobCursor = listed.length === batch ? listed.at(-1)!.digest : null;
      await deleteBlobs(listed.filter((b) => b.writtenAt < before).map((b) => b.digest), counts);
      if (blobCursor === null) break;
    }
  }

  async function sweepOnce(): Promise<SweepCounts> {
    const started = Date.now();
    const counts: SweepCounts = { tasks: 0, attempts: 0, blobs: 0, agents: 0, modules: 0 };
    // Every status, even one the server keeps forever: a tenant may have a retention of its own.
    // A sweep ends even while tasks keep ending: each batch takes at most `batch` rows, and a
    // batch that comes back short means nothing more had expired when it ran.
    for (const status of RETAINED_STATUSES) {
      for (let full = true; full && !stopped; ) {
        const got = await store.retention.sweepFinished(status, opts.retention[status], batch);
        count(counts, 'tasks', got.tasks);
        if (got.ids.length > 0) opts.onTasksDeleted?.(got.ids);
        count(counts, 'attempts', got.attempts);
        await deleteBlobs(got.digests, counts);
        full = got.tasks === batch;
      }
    }
    await collectGarbage(new Date(started - opts.blobGraceMs), counts);
    await store.retention.foldTaskBytes();
    if (counts.tasks > 0) await store.retention.reclaimSpace();
    const ms = Date.now() - started;
    if (Object.values(counts).some((n) => n > 0)) logger.info({ ...counts, ms }, 'sweeper: deleted expired tasks and unused blobs');
    else logger.debug({ ms }, 'sweeper: nothing expired');
    return counts;
  }

  const sweep = () =>
    (running ??= sweepOnce().finally(() => {
      running = null;
    }));

  function arm() {
    if (stopped) return;
    timer = setTimeout(() => {
      void sweep()
        .catch((err: unknown) => logger.warn({ err }, 'sweeper: sweep failed; next one at the next interval'))
        .finally(arm);
    }, opts.intervalMs);
    timer.unref();
  }

  return {
    start() {
      if (!timer) arm();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running?.catch(() => {});
    },
    sweep,
  };
}
