/**
 * The runs of this node: a claimed task becomes a RunRequest (inputs.ts), runs on the runtime, and
 * its outcome becomes the attempt result queued for the finisher. A run holds a slot of the node
 * (NodeState.inflight) from its claim until its result is queued; its duration feeds the moving
 * average (NodeState.serviceMs) that sizes how many runs the node holds. The Run record itself,
 * shared with the leases, is run.ts.
 */
import { emptyOutcome, type RunOutcome } from '../runtime/index.js';
import { encodeFiles, type AttemptResult, type TaskRow } from '../store/index.js';
import type { Finisher } from './finisher.js';
import { makeInputs } from './inputs.js';
import type { Leases } from './leases.js';
import type { NodeState } from './node.js';
import { attemptResult } from './results.js';
import { makeRun, type Run } from './run.js';

/** Per-run cost outside the guest (dispatch to a worker, result copy), added to runMs. */
const SERVICE_OVERHEAD_MS = 0.2;

export interface RunsDeps {
  leases: Leases;
  finisher: Pick<Finisher, 'add'>;
  /** A run left `inflight`: the claim loop may take its slot. */
  slotFreed(): void;
}

export type Runs = ReturnType<typeof makeRuns>;

export function makeRuns(s: NodeState, { leases, finisher, slotFreed }: RunsDeps) {
  const { store, runtime, bus, node, logger, random, observer } = s.options;
  const { inflight, unannounced, traces } = s;
  const inputs = makeInputs({ store });
  const debug = logger.isLevelEnabled?.('debug') ?? true;

  /** Begins the run of a claimed task; `written` only for claim-on-insert (see Run.written). */
  function start(task: TaskRow, written: Promise<boolean> | null = null): Run {
    const run = makeRun(task, written);
    const old = inflight.get(task.id);
    if (old) {
      // Claimed again while an earlier run of it still winds down (cancel + retry in quick
      // succession, or this node lost the task and won it back): that run is over either way. Its
      // result is kept as stale, unless it has the same attempt number (a claim given back before the
      // attempt was recorded), which the finish could not tell from this run's: then it is dropped.
      old.lost = true;
      old.abort.abort();
      if (old.n >= run.n) {
        old.released = true;
        logger.warn({ taskId: task.id, attempt: old.n }, 'executor: claimed a task whose earlier run here is still winding down; that run is not recorded');
      }
    }
    inflight.set(task.id, run);
    if (traces) run.spans = traces.claimed(task, run.n);
    run.done = execute(run).then(
      (outcome) => complete(run, outcome),
      (err: unknown) => complete(run, emptyOutcome('host_error', `executor: ${errorText(err)}`)),
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
    if (run.abort.signal.aborted) return emptyOutcome('cancelled', 'cancelled before it started');
    return runtime.run(
      req,
      run.abort.signal,
      (chunk) =>
        bus.pubsub.publish('TASK_OUTPUT', task.id, {
          taskId: task.id,
          tenantId: task.tenantId,
          attempt: run.n,
          stream: chunk.stream,
          offset: chunk.offset,
          data: chunk.data,
        }),
      () => {
        leases.started(run);
        if (run.spans) traces!.started(run.spans);
        observer.started(Date.now() - Math.max(task.queuedAt.getTime(), task.runAt.getTime()));
        if (debug) logger.debug({ taskId: task.id, tenantId: task.tenantId, agentId: task.agentId, attempt: run.n }, 'task started');
      },
    );
  }

  async function complete(run: Run, ended: RunOutcome) {
    const { task } = run;
    leases.ended(run);
    try {
      if (run.released) return void (run.spans && traces!.dropped(run.spans, 'released'));
      // Stopped (cancelled, or its task lost) before a worker took it up: it was only claimed, no attempt.
      if (run.startedAt === null && run.abort.signal.aborted) return void (run.spans && traces!.dropped(run.spans, 'stopped before it began'));
      // 'cancelled' is only what a cancel request caused; a run that ends so on its own (the runtime
      // was closed under it) is our failure, and retryable as one.
      const outcome: RunOutcome =
        ended.kind === 'cancelled' && !run.abort.signal.aborted
          ? { ...ended, kind: 'host_error', error: `run ended without a cancel request: ${ended.error ?? 'cancelled'}` }
          : { ...ended };
      if (run.lost && outcome.kind === 'cancelled') outcome.error = 'stopped by its node, which no longer held the task';
      s.serviceMs += 0.1 * (outcome.runMs + outcome.compileMs + SERVICE_OVERHEAD_MS - s.serviceMs);
      const files = { meta: [] as AttemptResult['files'], digest: null as string | null };
      if (outcome.files.length > 0) {
        try {
          files.digest = await store.blobs.put(encodeFiles(outcome.files));
          files.meta = outcome.files.map((f) => ({ path: f.path, size: f.bytes.length }));
        } catch (err) {
          outcome.error = `${outcome.error ? `${outcome.error}; ` : ''}output files were lost: ${errorText(err)}`;
        }
      }
      const finishedAt = new Date();
      const startedAt = run.startedAt ?? finishedAt;
      const result = attemptResult(outcome, { task, n: run.n, node, startedAt, finishedAt, files, random });
      if (run.spans) traces!.ended(run.spans, outcome, result);
      if (run.written) {
        run.result = result;
        run.onResult?.();
        if (!(await run.written) || run.released) return;
      }
      // A heartbeat marking it RUNNING is in flight: let it land (and announce RUNNING) first.
      if (run.marking) await run.marking;
      if (!run.marked) unannounced.add(result);
      else s.markedUnwritten.add(result);
      finisher.add(result);
    } finally {
      if (inflight.get(task.id) === run) inflight.delete(task.id);
      slotFreed();
    }
  }

  return { start };
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
