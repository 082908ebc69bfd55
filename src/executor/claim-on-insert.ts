/**
 * Claim-on-insert (ExecutorOptions.claimOnInsert): a submit that this node would claim next anyway
 * is inserted already claimed by it, saving the claim's round trip and UPDATE. The runs start
 * before their rows are written (a guest's only effects are its captured output and files, and
 * nobody knows the ids yet); short ones are waited for and go in with their rows, already finished.
 * Submitters see the tasks QUEUED, subscribers see QUEUED then RUNNING as with any claim.
 */
import { uuidv7, type AttemptResult, type NewTask, type TaskRow } from '../store/index.js';
import type { Leases } from './leases.js';
import { limit, type NodeState } from './node.js';
import { taskEvent } from './results.js';
import type { Run } from './run.js';
import type { TaskEvent } from './types.js';

export interface ClaimOnInsertDeps {
  /** Begins a run (runs.ts) whose row is not written yet; `written` resolves once it is. */
  start(task: TaskRow, written: Promise<boolean>): Run;
  leases: Leases;
  publish(events: TaskEvent[]): void;
  /** A written attempt's consequences (ends.ts): for the runs that went in with their rows. */
  ended(r: AttemptResult, row: TaskRow): void;
}

export type ClaimOnInsert = ReturnType<typeof makeClaimOnInsert>;

export function makeClaimOnInsert(s: NodeState, { start, leases, publish, ended }: ClaimOnInsertDeps) {
  const { store, node, leaseMs, runningTasksCap, settleOnInsertMs } = s.options;
  const { traces } = s;

  /**
   * Whether these tasks may be inserted already claimed by this node. Only when a claim would take
   * exactly them next anyway: this node runs tasks and has room for all of them, every one is due
   * now, and nothing runnable is waiting (the last claim came back short, no claim is in flight and
   * no wake-up — local submit, NOTIFY from another node, due retry — arrived since). Then the queue
   * holds nothing that should go first, so priority and age order are kept. The one window: a task
   * another node queued whose NOTIFY has not arrived yet may start a few ms after ours; any other
   * node could have claimed ours first just as well.
   */
  function applies(tasks: NewTask[], now: number): boolean {
    if (!s.started || s.stopping || s.maybeWork || s.claiming) return false;
    if (s.inflight.size + tasks.length > limit(s)) return false;
    // A keyed task may already exist: it goes through the queue rather than run speculatively.
    return tasks.every((t) => t.runAt.getTime() <= now && t.idempotencyKey === null);
  }

  /**
   * Claim-on-insert would bypass a running-task cap, an agent's pause or its concurrency limit (only
   * claims count held tasks and read them): never for capped tenants nor paused or limited agents.
   */
  async function uncapped(tasks: NewTask[]): Promise<boolean> {
    const caps = await store.tasks.runningCaps(runningTasksCap).catch(() => null);
    if (caps === null) return false;
    if (caps.agentsInForce && tasks.some((t) => caps.controls(t.agentId))) return false;
    return !caps.inForce || tasks.every((t) => caps.of(t.tenantId) === 0);
  }

  /** The row a claim-on-insert is about to write (claimed), for the run that starts before it exists. */
  function claimedRow(t: NewTask & { id: string }, now: Date): TaskRow {
    return {
      ...t,
      traceContext: t.traceContext ?? null,
      wasi: t.wasi ?? null,
      status: 'QUEUED',
      attempts: 0,
      attemptBase: 0,
      queuedAt: now,
      leaseOwner: node,
      leaseExpiresAt: new Date(now.getTime() + leaseMs),
      lastOutcome: null,
      exitCode: null,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      finishedAt: null,
    };
  }

  /** Inserts the tasks claimed by this node, their runs already started; answers as insertMany does. */
  async function insert(tasks: NewTask[]) {
    const now = new Date();
    const own = tasks.map((t) => ({ ...t, id: uuidv7() }));
    const gates = own.map(() => gate());
    const runs = own.map((t, i) => start(claimedRow(t, now), gates[i]!.promise));
    // Short runs are worth waiting for: they go in with their rows, already finished.
    if (s.serviceMs <= settleOnInsertMs) await resultsWithin(runs, settleOnInsertMs);
    const settled = new Map(runs.flatMap((r) => (r.result ? [[r.task.id, r.result] as const] : [])));
    // Begun but not ended: those rows go in RUNNING, which saves marking them afterwards.
    const begun = new Map(runs.flatMap((r) => (!r.result && r.startedAt ? [[r.task.id, r.startedAt] as const] : [])));
    let results: { task: TaskRow; created: boolean }[];
    // The results that go in with their rows: this INSERT is their write.
    traces?.writing(settled.values());
    try {
      results = await store.tasks.insertMany(own, { node, leaseMs, at: now, settled, started: begun });
      traces?.written(settled.values());
    } catch (err) {
      traces?.written(settled.values(), err);
      runs.forEach((run, i) => {
        run.released = true;
        run.abort.abort();
        gates[i]!.resolve(false);
      });
      throw err;
    }
    const created = results.filter((r) => r.created).map((r) => r.task);
    results.forEach((r, i) => {
      const run = runs[i]!;
      if (!r.created) run.abort.abort(); // cannot happen without idempotency keys; never run a task twice
      else {
        run.marked = r.task.status === 'RUNNING';
        leases.inserted(run);
      }
      gates[i]!.resolve(r.created && !settled.has(r.task.id));
    });
    // stop() may have begun meanwhile: it waits for these runs and writes their results like any other.
    // One batch, in the order of three: every task QUEUED, then RUNNING (claimed only, no worker had
    // begun it: RUNNING comes with the heartbeat or the result that marks it), then the ends.
    const finished = created.filter((t) => settled.has(t.id));
    publish([
      ...created.map((t) => taskEvent(asQueued(t))),
      ...created.filter((t) => t.status !== 'QUEUED').map((t) => taskEvent(settled.has(t.id) ? { ...t, status: 'RUNNING' as const } : t)),
      ...finished.map(taskEvent),
    ]);
    for (const row of finished) ended(settled.get(row.id)!, row);
    return results.map((r) => (r.created ? { ...r, task: asQueued(r.task) } : r));
  }

  return { applies, uncapped, insert };
}

/** The row as the submitter should see it: queued (it was, for no time at all). */
const asQueued = (t: TaskRow): TaskRow => ({ ...t, status: 'QUEUED', attempts: 0, leaseOwner: null, leaseExpiresAt: null, startedAt: null });

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
