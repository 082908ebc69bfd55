/**
 * The task lifecycle on one node (DESIGN §5): claim batches from the durable queue, run them on
 * the runtime, write results in batches, publish what was written. Leases are renewed for every
 * task this node holds; tasks of dead nodes are recovered once their lease expired.
 *
 * Hot-path rules: no per-task database round trip (claims, heartbeats and result writes are
 * batched), no per-task timer, one publish per batch of state changes.
 */
import type { RunOutcome } from '../runtime/types.js';
import { uuidv7 } from '../store/ids.js';
import type { AttemptResult, NewTask, TaskRow } from '../store/types.js';
import { encodeFiles } from './files.js';
import { makeFinisher } from './finisher.js';
import { makeInputs } from './inputs.js';
import { makeSubmitter } from './submitter.js';
import { resolveOptions } from './options.js';
import { attemptResult, expiredLeaseResult, ownOutcome, taskEvent } from './results.js';
import { makeClusterStats, makeLocalCounters } from './stats.js';
import { makeWakeup } from './wakeup.js';
import type { Executor, ExecutorOptions, TaskEvent } from './types.js';

export { taskEvent } from './results.js';

interface Run {
  task: TaskRow;
  abort: AbortController;
  startedAt: Date;
  /**
   * Not recorded: set by stop() (the task goes back to the queue), or when this node claims the
   * task again while a cancelled run of it is still winding down (cancel + retry in quick
   * succession): its stale result must not land on the new attempt.
   */
  released: boolean;
  done: Promise<void>;
  /**
   * Claim-on-insert: the run started before its row was written. Resolves once the insert is
   * done: true when the result is still to be written (the row went in RUNNING), false when it
   * went in with the row or the insert failed.
   */
  written: Promise<boolean> | null;
  /** Claim-on-insert: the result, once the run ended (read by the insert waiting for it). */
  result?: AttemptResult;
  onResult?: () => void;
}

/** How long stop() waits for aborted runs to wind down before releasing them anyway. */
const ABORT_SETTLE_MS = 5_000;
/** How long stop() keeps trying to write queued results. */
const FLUSH_MS = 10_000;
const RECOVER_BATCH = 100;
/** Work (in ms of run time) to keep queued per runtime worker; see `limit` in makeExecutor. */
const BUFFER_MS = 100;
/** Per-run cost outside the guest (dispatch to a worker, result copy), added to runMs. */
const SERVICE_OVERHEAD_MS = 0.2;

export function makeExecutor(options: ExecutorOptions): Executor {
  const o = resolveOptions(options);
  const { store, runtime, bus, node, logger, workers, concurrency, claimBatch, leaseMs, heartbeatMs, random } = o;

  // How many runs to hold: enough queued in the runtime to cover BUFFER_MS of work per worker.
  // Short tasks need deep buffers so that claims and writes come in large batches (a query costs
  // about the same for 1 row as for 50); long tasks must not be hoarded while other nodes idle.
  // `serviceMs` is a moving average of one run's duration.
  let serviceMs = 10;
  const limit = () => Math.min(concurrency, workers * Math.max(2, Math.ceil(BUFFER_MS / serviceMs)));
  // A freed slot triggers a claim only once a quarter of the limit is free, so claims stay batched
  // under load (the runtime still has queued work meanwhile); submits and wake-ups claim at once.
  const canClaim = () => {
    const free = limit() - inflight.size;
    return free > 0 && free >= Math.floor(limit() / 4);
  };

  const inflight = new Map<string, Run>();
  const inputs = makeInputs({ store });
  const counters = makeLocalCounters(node);
  const cluster = makeClusterStats();
  const finisher = makeFinisher({
    store,
    batchMs: o.finishBatchMs,
    batchMax: o.finishBatchMax,
    parallel: o.writeParallel,
    logger,
    onWritten: published,
  });

  let started = false;
  let stopping = false;
  let stopped: Promise<void> | null = null;
  let claiming = false;
  let again = false;
  /** False once a claim came back short: the queue has nothing runnable until the next wake-up. */
  let maybeWork = true;
  const timers: NodeJS.Timeout[] = [];
  /** Claims and recoveries in flight, so stop() can wait for them. */
  const background = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    background.add(p);
    void p.finally(() => background.delete(p));
  };
  const unsubscribe: (() => void)[] = [];
  const delayed = makeWakeup(() => wake());

  // Every node hears cancels (to pre-empt its own runs) and stats (to answer for the cluster),
  // whether or not it runs tasks itself.
  unsubscribe.push(
    bus.on('TASK_CANCEL', (ids) => {
      for (const id of ids) inflight.get(id)?.abort.abort();
    }),
    bus.on('NODE_STATS', (summary) => cluster.add(summary)),
  );

  const publish = (events: TaskEvent[]) => {
    if (events.length > 0) bus.pubsub.publish('TASK_EVENTS', events);
  };

  // ---------- wake-ups and claims ----------

  function wake() {
    maybeWork = true;
    if (!started || stopping) return;
    if (claiming) again = true;
    else track(claimLoop());
  }

  async function claimLoop() {
    claiming = true;
    try {
      while (!stopping) {
        again = false;
        const want = Math.min(claimBatch, limit() - inflight.size);
        if (want <= 0) break;
        const tasks = await store.tasks.claim(node, want, leaseMs, o.runningTasksCap);
        if (stopping) {
          // stop() began while the claim was in flight: hand these straight back.
          if (tasks.length > 0) await store.tasks.release(node, tasks.map((t) => t.id));
          break;
        }
        publish(tasks.map((t) => taskEvent(t)));
        for (const task of tasks) startRun(task);
        if (tasks.length < want && !again) {
          maybeWork = false;
          break;
        }
      }
    } catch (err) {
      logger.error({ err }, 'executor: claim failed; the next poll retries');
    } finally {
      claiming = false;
    }
  }

  function slotFreed() {
    if (maybeWork && !claiming && !stopping && canClaim()) track(claimLoop());
  }

  // ---------- running ----------

  function startRun(task: TaskRow, written: Promise<boolean> | null = null): Run {
    const stale = inflight.get(task.id);
    if (stale) stale.released = true;
    const run: Run = { task, abort: new AbortController(), startedAt: new Date(), released: false, done: Promise.resolve(), written };
    inflight.set(task.id, run);
    run.done = execute(run).then(
      (outcome) => complete(run, outcome),
      (err: unknown) => complete(run, ownOutcome('host_error', `executor: ${errorText(err)}`)),
    ).catch((err: unknown) => {
      logger.error({ err, taskId: task.id }, 'executor: recording a result failed');
      if (inflight.get(task.id) === run) inflight.delete(task.id);
    });
    return run;
  }

  async function execute(run: Run): Promise<RunOutcome> {
    const { task } = run;
    const built = inputs.request(task);
    const req = built instanceof Promise ? await built : built;
    if (run.abort.signal.aborted) return ownOutcome('cancelled', 'cancelled before it started');
    return runtime.run(req, run.abort.signal, (chunk) =>
      bus.pubsub.publish('TASK_OUTPUT', task.id, {
        taskId: task.id,
        tenantId: task.tenantId,
        attempt: task.attempts,
        stream: chunk.stream,
        data: chunk.data,
      }),
    );
  }

  async function complete(run: Run, ended: RunOutcome) {
    const { task } = run;
    try {
      if (run.released) return;
      // 'cancelled' is only what a cancel request caused; a run that ends so on its own (the runtime
      // was closed under it) is our failure, and retryable as one.
      const outcome: RunOutcome =
        ended.kind === 'cancelled' && !run.abort.signal.aborted
          ? { ...ended, kind: 'host_error', error: `run ended without a cancel request: ${ended.error ?? 'cancelled'}` }
          : { ...ended };
      serviceMs += 0.1 * (outcome.runMs + outcome.compileMs + SERVICE_OVERHEAD_MS - serviceMs);
      const files = { meta: [] as AttemptResult['files'], digest: null as string | null };
      if (outcome.files.length > 0) {
        try {
          files.digest = await store.blobs.put(encodeFiles(outcome.files));
          files.meta = outcome.files.map((f) => ({ path: f.path, size: f.bytes.length }));
        } catch (err) {
          outcome.error = `${outcome.error ? `${outcome.error}; ` : ''}output files were lost: ${errorText(err)}`;
        }
      }
      const result = attemptResult(outcome, { task, node, startedAt: run.startedAt, finishedAt: new Date(), files, random });
      if (run.written) {
        run.result = result;
        run.onResult?.();
        if (!(await run.written) || run.released) return;
      }
      finisher.add(result);
    } finally {
      if (inflight.get(task.id) === run) inflight.delete(task.id);
      slotFreed();
    }
  }

  /** After a batch of results is written: publish the state changes that took, count the finished. */
  function published(results: AttemptResult[], rows: Map<string, TaskRow>) {
    const events: TaskEvent[] = [];
    for (const r of results) {
      const row = rows.get(r.taskId);
      // Not moved (cancelled meanwhile, or taken over by another node): the attempt is recorded, the
      // state change that the event would announce did not happen.
      if (!row || row.status !== r.next.status || row.attempts !== r.n || row.status === 'CANCELLED') continue;
      events.push(taskEvent(row));
      ended(r, row);
    }
    publish(events);
    claimIfCapped(events);
  }

  /**
   * Tasks of a capped tenant (QUOTA_RUNNING_TASKS) left RUNNING: their slots are free in the
   * database only now, after the write. Claim again at once: the claim that found the tenant at its
   * cap came back short and stopped the loop, and the next poll may be a second away.
   */
  function claimIfCapped(events: TaskEvent[]) {
    if (events.length === 0) return;
    store.tasks.runningCaps(o.runningTasksCap).then(
      (caps) => caps.inForce && events.some((e) => caps.of(e.tenantId) > 0) && wake(),
      (err: unknown) => logger.warn({ err }, 'executor: reading running-task caps failed; the next poll claims'),
    );
  }

  /** A written attempt's consequences here: a retry to wake up for, or a finished task to count. */
  function ended(r: AttemptResult, row: TaskRow) {
    if (r.next.status === 'RETRYING') delayed.at(r.next.runAt);
    else {
      const finishedAt = row.finishedAt ?? r.finishedAt;
      counters.record(Math.floor(finishedAt.getTime() / 1000), finishedAt.getTime() - row.createdAt.getTime());
    }
  }

  // ---------- leases ----------

  let beating = false;
  async function heartbeat() {
    if (beating) return;
    const ids = [...inflight.keys(), ...finisher.pendingIds()];
    if (ids.length === 0) return;
    beating = true;
    try {
      await store.tasks.heartbeat(node, ids, leaseMs);
    } catch (err) {
      logger.warn({ err, tasks: ids.length }, 'executor: heartbeat failed');
    } finally {
      beating = false;
    }
  }

  /** Takes over the tasks of nodes that stopped heartbeating; their attempt ends as host_error. */
  async function recover() {
    try {
      for (;;) {
        const tasks = await store.tasks.reclaimExpired(node, RECOVER_BATCH, leaseMs);
        const now = new Date();
        const pending = new Set(finisher.pendingIds());
        for (const task of tasks) {
          // Our own heartbeat lagged (a stalled event loop): the run is still ours and going, and
          // the takeover has just renewed its lease. Recording it as lost would drop its result.
          if (inflight.get(task.id)?.task.attempts === task.attempts || pending.has(task.id)) continue;
          logger.warn({ taskId: task.id, attempt: task.attempts, lostNode: task.lostOwner }, 'executor: recovering a task whose lease expired');
          finisher.add(expiredLeaseResult(task, task.lostOwner, node, now, random));
        }
        if (tasks.length < RECOVER_BATCH || stopping) break;
      }
    } catch (err) {
      logger.error({ err }, 'executor: lease recovery failed');
    }
  }

  async function pollDelayed() {
    try {
      const next = await store.tasks.nextRunAt();
      if (next) delayed.at(next);
    } catch (err) {
      logger.warn({ err }, 'executor: nextRunAt failed');
    }
  }

  // ---------- stats ----------

  /** Publishes the summaries of complete seconds (at stop: the current one too). */
  function publishStats(final = false) {
    const pool = runtime.stats();
    for (const summary of counters.drain(Math.floor(Date.now() / 1000) + (final ? 1 : 0), pool.workers, pool.busy)) {
      bus.pubsub.publish('NODE_STATS', summary);
    }
  }

  // ---------- notify other nodes ----------

  // Our own NOTIFY comes back to our own listener. The local wake-up already claimed, so those
  // echoes are swallowed (one per notify sent, forgotten after a second in case one got lost);
  // an extra empty claim per submit costs a round trip, and PGlite has only one connection.
  let echoes = 0;
  let echoesUntil = 0;
  function onQueued() {
    if (echoes > 0 && Date.now() < echoesUntil) echoes--;
    else wake();
  }

  let notifying = false;
  let notifyAgain = false;
  function notifyOthers() {
    if (notifying) {
      notifyAgain = true;
      return;
    }
    notifying = true;
    echoes = Date.now() < echoesUntil ? echoes + 1 : 1;
    echoesUntil = Date.now() + 1_000;
    store
      .notifyQueued()
      .catch((err: unknown) => logger.warn({ err }, 'executor: notifyQueued failed'))
      .finally(() => {
        notifying = false;
        if (notifyAgain) {
          notifyAgain = false;
          notifyOthers();
        }
      });
  }

  function every(ms: number, fn: () => unknown) {
    const t = setInterval(fn, ms);
    t.unref();
    timers.push(t);
  }

  // ---------- submits ----------

  // ---------- claim-on-insert ----------

  /**
   * Whether a submit may be inserted already claimed by this node (see ClaimOnInsert), saving the
   * claim's round trip and UPDATE. Only when a claim would take exactly these tasks next anyway:
   * this node runs tasks and has room for all of them, every one is due now, and nothing runnable
   * is waiting (the last claim came back short, no claim is in flight and no wake-up — local
   * submit, NOTIFY from another node, due retry — arrived since). Then the queue holds nothing that
   * should go first, so priority and age order are kept. The one window: a task another node queued
   * whose NOTIFY has not arrived yet may start a few ms after ours; any other node could have
   * claimed ours first just as well.
   */
  function claimsOnInsert(tasks: NewTask[], now: number): boolean {
    if (!started || stopping || maybeWork || claiming) return false;
    if (inflight.size + tasks.length > limit()) return false;
    // A keyed task may already exist: it goes through the queue rather than run speculatively.
    return tasks.every((t) => t.runAt.getTime() <= now && t.idempotencyKey === null);
  }

  /** Claim-on-insert would bypass a running-task cap (only claims count RUNNING tasks): never for capped tenants. */
  async function uncapped(tasks: NewTask[]): Promise<boolean> {
    const caps = await store.tasks.runningCaps(o.runningTasksCap).catch(() => null);
    return caps !== null && (!caps.inForce || tasks.every((t) => caps.of(t.tenantId) === 0));
  }

  /** The row as the submitter should see it: queued (it was, for no time at all). */
  const asQueued = (t: TaskRow): TaskRow => ({ ...t, status: 'QUEUED', attempts: 0, leaseOwner: null, leaseExpiresAt: null, startedAt: null });

  /** The row a claim-on-insert is about to write, for the run that starts before it exists. */
  function claimedRow(t: NewTask & { id: string }, now: Date): TaskRow {
    return {
      ...t,
      status: 'RUNNING',
      attempts: 1,
      attemptBase: 0,
      leaseOwner: node,
      leaseExpiresAt: new Date(now.getTime() + leaseMs),
      lastOutcome: null,
      exitCode: null,
      createdAt: now,
      updatedAt: now,
      startedAt: now,
      finishedAt: null,
    };
  }

  async function insertClaimed(tasks: NewTask[]) {
    const now = new Date();
    const own = tasks.map((t) => ({ ...t, id: uuidv7() }));
    const gates = own.map(() => gate());
    const runs = own.map((t, i) => startRun(claimedRow(t, now), gates[i]!.promise));
    // Short runs are worth waiting for: they go in with their rows, already finished.
    if (serviceMs <= o.settleOnInsertMs) await resultsWithin(runs, o.settleOnInsertMs);
    const settled = new Map(runs.flatMap((r) => (r.result ? [[r.task.id, r.result] as const] : [])));
    let results: { task: TaskRow; created: boolean }[];
    try {
      results = await store.tasks.insertMany(own, { node, leaseMs, at: now, settled });
    } catch (err) {
      runs.forEach((run, i) => {
        run.released = true;
        run.abort.abort();
        gates[i]!.resolve(false);
      });
      throw err;
    }
    const created = results.filter((r) => r.created).map((r) => r.task);
    results.forEach((r, i) => {
      if (!r.created) runs[i]!.abort.abort(); // cannot happen without idempotency keys; never run a task twice
      gates[i]!.resolve(r.created && !settled.has(r.task.id));
    });
    // stop() may have begun meanwhile: it waits for these runs and writes their results like any other.
    publish(created.map((t) => taskEvent(asQueued(t))));
    publish(created.map((t) => taskEvent(settled.has(t.id) ? { ...t, status: 'RUNNING' } : t)));
    const finished = created.filter((t) => settled.has(t.id));
    publish(finished.map(taskEvent));
    for (const row of finished) ended(settled.get(row.id)!, row);
    return results.map((r) => (r.created ? { ...r, task: asQueued(r.task) } : r));
  }

  /** One shared insert: publish what was created, tell the other nodes, wake (or arm) the claim loop. */
  async function insert(tasks: NewTask[]) {
    if (o.claimOnInsert && (await uncapped(tasks)) && claimsOnInsert(tasks, Date.now())) return insertClaimed(tasks);
    const results = await store.tasks.insertMany(tasks);
    const created = results.filter((r) => r.created).map((r) => r.task);
    if (created.length === 0) return results;
    publish(created.map(taskEvent));
    notifyOthers();
    const now = Date.now();
    let due = false;
    for (const t of created) {
      if (t.runAt.getTime() <= now) due = true;
      else delayed.at(t.runAt);
    }
    if (due) wake();
    return results;
  }
  const submitter = makeSubmitter({ insert, parallel: o.writeParallel, batchMax: 1_000 });

  // ---------- the public face ----------

  return {
    async start() {
      if (started) return;
      started = true;
      unsubscribe.push(store.onQueued(onQueued));
      await recover();
      every(heartbeatMs, heartbeat);
      every(o.recoverMs, () => track(recover()));
      every(o.pollMs, () => {
        wake();
        void pollDelayed();
      });
      every(1_000, () => publishStats());
      await pollDelayed();
      wake();
    },

    submit: (tasks: NewTask[]) => submitter.submit(tasks),

    async cancel(tenantId: string, id: string) {
      const row = await store.tasks.cancel(tenantId, id);
      if (row?.status === 'CANCELLED') {
        publish([taskEvent(row)]);
        inflight.get(id)?.abort.abort();
        bus.pubsub.publish('TASK_CANCEL', [id]);
      }
      return row;
    },

    async retry(tenantId: string, id: string) {
      const row = await store.tasks.retry(tenantId, id);
      if (row?.status === 'QUEUED') {
        publish([taskEvent(row)]);
        notifyOthers();
        if (row.runAt.getTime() <= Date.now()) wake();
        else delayed.at(row.runAt);
      }
      return row;
    },

    stop(graceMs = 10_000) {
      stopped ??= (async () => {
        stopping = true;
        delayed.clear();
        for (const t of timers.splice(0)) clearInterval(t);
        // Keep leases alive while runs wind down and results are written.
        const beat = setInterval(heartbeat, heartbeatMs);
        beat.unref();
        try {
          // A claim in flight hands its tasks straight back (see claimLoop); a recovery finishes.
          await settle([...background], ABORT_SETTLE_MS);
          await settle([...inflight.values()].map((r) => r.done), graceMs);
          const rest = [...inflight.values()];
          if (rest.length > 0) {
            for (const run of rest) {
              run.released = true;
              run.abort.abort();
            }
            await settle(rest.map((r) => r.done), ABORT_SETTLE_MS);
            await store.tasks.release(node, rest.map((r) => r.task.id)).catch((err: unknown) => {
              logger.error({ err, tasks: rest.length }, 'executor: releasing tasks failed; their leases will expire');
            });
          }
          if (!(await finisher.flush(FLUSH_MS))) {
            logger.error({ results: finisher.size() }, 'executor: results not written at stop; their leases will expire and recovery will retry them');
            finisher.close();
          }
          if (started) publishStats(true);
        } finally {
          clearInterval(beat);
          for (const off of unsubscribe.splice(0)) off();
        }
      })();
      return stopped;
    },

    pool: () => runtime.stats(),
    stats: () => cluster.snapshot(Math.floor(Date.now() / 1000)),
    running: () => inflight.size,
  };
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Waits for all promises or `ms`, whichever comes first. */
async function settle(promises: Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(promises), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** A promise and its resolve. */
function gate(): { promise: Promise<boolean>; resolve(v: boolean): void } {
  let resolve!: (v: boolean) => void;
  const promise = new Promise<boolean>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves once every run has its result, or after `ms`. */
function resultsWithin(runs: Run[], ms: number): Promise<void> {
  const waiting = runs.filter((r) => !r.result);
  if (waiting.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    let left = waiting.length;
    const done = () => {
      clearTimeout(timer);
      for (const r of waiting) r.onResult = undefined;
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const r of waiting) r.onResult = () => --left === 0 && done();
  });
}
