/**
 * The task lifecycle on one node (DESIGN §5): claim batches from the durable queue, run them on
 * the runtime, write results in batches, publish what was written. A claimed task is the node's
 * (leased) but still QUEUED; it becomes RUNNING when a worker takes it up, in a write that happens
 * anyway (leases.ts: the finish of a run that ended first, or an early heartbeat). Leases are
 * renewed for every task this node holds; tasks of dead nodes are recovered once their lease expired.
 *
 * Hot-path rules: no per-task database round trip (claims, heartbeats and result writes are
 * batched), no per-task timer, one publish per batch of state changes.
 *
 * makeExecutor makes the node's state once (node.ts: its runs, the run-time average, the flags and
 * counters the parts share) and wires the parts, each a file of its own:
 *   claims.ts           wake-ups and the claim loop (wakeup.ts: one timer for delayed work)
 *   runs.ts             a claimed task → its run on the runtime → its attempt result (run.ts: the
 *                       Run record; inputs.ts: module bytes, input files and argv0, cached)
 *   finisher.ts         batched result writes; ends.ts: what a written batch sets off
 *   leases.ts           heartbeats, marking RUNNING, lease loss, recovery of dead nodes' tasks
 *                       (lost-ends.ts: the ends a dead node wrote but never published)
 *   submits.ts          submits and manual retries (submitter.ts: batched inserts;
 *                       claim-on-insert.ts: inserted already claimed; notify.ts: NOTIFY and its echo)
 *   cancel.ts           cancel (one, or a batch), and pre-empting a cancelled run wherever it runs
 *   deletes.ts          deleteTasks' batches: rows, TASK_DELETED, blobs nothing names
 *   stop.ts             stop(): the drain
 *   results.ts          outcome → attempt row, row → event; retry.ts: the retry policy
 *   stats.ts            cluster stats from the NODE_STATS every node publishes
 *   traces.ts           spans of each attempt, joining its submit's trace (only with a tracer)
 * Beside them: events.ts (the bus; redis-link.ts, replay.ts), options.ts, types.ts (the contract).
 */
import { makeCancel } from './cancel.js';
import { makeClaimOnInsert } from './claim-on-insert.js';
import { makeClaims } from './claims.js';
import { makeEnds } from './ends.js';
import { makeFinisher } from './finisher.js';
import { makeLeases } from './leases.js';
import { makeLostEnds } from './lost-ends.js';
import { makeNodeState, track } from './node.js';
import { makeNotify } from './notify.js';
import { resolveOptions } from './options.js';
import { makeRuns } from './runs.js';
import { makeDeletes } from './deletes.js';
import { makeClusterStats } from './stats.js';
import { drain } from './stop.js';
import { makeSubmits } from './submits.js';
import type { Executor, ExecutorOptions, TaskEvent } from './types.js';

export function makeExecutor(options: ExecutorOptions): Executor {
  const s = makeNodeState(resolveOptions(options));
  const o = s.options;
  const { store, runtime, bus, node, logger, leaseMs, heartbeatMs } = o;

  const publish = (events: TaskEvent[]) => {
    if (events.length > 0) bus.pubsub.publish('TASK_EVENTS', events);
  };
  // The parts call one another through these; the arrows reach parts made further down.
  const finisher = makeFinisher({
    store,
    batchMs: o.finishBatchMs,
    batchMax: o.finishBatchMax,
    parallel: o.writeParallel,
    logger,
    traces: s.traces,
    onWritten: (results, rows) => {
      leases.written(results);
      ends.written(results, rows);
    },
  });
  const lostEnds = makeLostEnds({ store, node, leaseMs, publish, logger });
  const leases = makeLeases(s, {
    pendingIds: () => finisher.pendingIds(),
    record: (result) => finisher.add(result),
    publish,
    requeued: () => claims.wake(),
    // A node that died may have written ends it never published.
    lost: (owners) => lostEnds.replay(owners),
  });
  const runs = makeRuns(s, { leases, finisher, slotFreed: () => claims.slotFreed() });
  const claims = makeClaims(s, runs.start);
  const { wake, wakeAt } = claims;
  const ends = makeEnds(s, { publish, wake, wakeAt });
  const notify = makeNotify({ store, logger, wake });
  const claimOnInsert = makeClaimOnInsert(s, { start: runs.start, leases, publish, ended: ends.ended });
  const submits = makeSubmits(s, { claimOnInsert, publish, notifyOthers: notify.notifyOthers, wake, wakeAt });
  const cancels = makeCancel(s, publish);
  const deletes = makeDeletes(s);
  const cluster = makeClusterStats();
  let stopped: Promise<void> | null = null;

  // Every node hears cancels (to pre-empt its own runs) and stats (to answer for the cluster),
  // whether or not it runs tasks itself.
  s.unsubscribe.push(
    bus.on('TASK_CANCEL', cancels.preempt),
    bus.on('NODE_STATS', (summary) => cluster.add(summary)),
  );

  /** Publishes the summaries of complete seconds (at stop: the current one too). */
  function publishStats(final = false) {
    const pool = runtime.stats();
    for (const summary of s.counters.drain(Math.floor(Date.now() / 1000) + (final ? 1 : 0), pool.workers, pool.busy)) {
      bus.pubsub.publish('NODE_STATS', summary);
    }
  }

  function every(ms: number, fn: () => unknown) {
    const t = setInterval(fn, ms);
    t.unref();
    s.timers.push(t);
  }

  return {
    async start() {
      if (s.started) return;
      s.started = true;
      s.unsubscribe.push(store.onQueued(notify.onQueued));
      await leases.recover();
      every(heartbeatMs, leases.heartbeat);
      every(o.recoverMs, () => track(s, leases.recover()));
      every(o.pollMs, () => {
        wake();
        void claims.pollDelayed();
      });
      every(1_000, () => publishStats());
      await claims.pollDelayed();
      wake();
    },

    submit: submits.submit,
    cancel: cancels.cancel,
    retry: submits.retry,
    cancelMany: cancels.cancelMany,
    retryMany: submits.retryMany,
    deleteMany: deletes.deleteMany,

    stop(graceMs = 10_000) {
      return (stopped ??= drain(s, graceMs, { claims, leases, finisher, publishFinalStats: () => publishStats(true) }));
    },

    pool: () => runtime.stats(),
    stats: () => cluster.snapshot(Math.floor(Date.now() / 1000)),
    running: () => s.inflight.size,
  };
}
