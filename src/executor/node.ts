/**
 * The state the parts of one node's executor share (STYLE §12): made once by makeExecutor and
 * handed to every part, so each variable that two parts read or write has a name and a type here
 * rather than hiding in one closure. What a single part alone uses stays inside that part (the
 * claim loop's `again`, notify.ts's echo count, the finisher's queue, the leases' marking timer).
 */
import type { AttemptResult } from '../store/index.js';
import type { ResolvedExecutorOptions } from './options.js';
import type { Run } from './run.js';
import { makeLocalCounters } from './stats.js';
import { makeAttemptTraces, type AttemptTraces } from './traces.js';

/** Work (in ms of run time) to keep queued per runtime worker; see `limit`. */
const BUFFER_MS = 100;

export interface NodeState {
  readonly options: ResolvedExecutorOptions;
  /** This node's runs by task id, from their claim until their result is queued for writing. */
  readonly inflight: Map<string, Run>;
  /** A moving average of one run's duration in ms (guest, compile and overhead): sizes `limit`. */
  serviceMs: number;
  /** start() was called: wake-ups claim from now on. */
  started: boolean;
  /** stop() began: nothing more is claimed (on insert neither), recoveries end after their batch. */
  stopping: boolean;
  /** The claim loop is running (claims.ts). */
  claiming: boolean;
  /** False once a claim came back short: the queue has nothing runnable until the next wake-up. */
  maybeWork: boolean;
  /** Results whose task was never announced RUNNING (the run ended before a heartbeat marked it). */
  readonly unannounced: Set<AttemptResult>;
  /**
   * Results of runs marked RUNNING, queued or being written: their rows stay RUNNING until the
   * write lands, so with the marked runs in flight they are this node's RUNNING rows (leases.ts).
   */
  readonly markedUnwritten: Set<AttemptResult>;
  /** Claims and recoveries in flight, so stop() can wait for them. */
  readonly background: Set<Promise<void>>;
  /** Tasks this node finished, per second, until NODE_STATS publishes them. */
  readonly counters: ReturnType<typeof makeLocalCounters>;
  /** The periodic timers start() set, which stop() clears. */
  readonly timers: NodeJS.Timeout[];
  /** Bus and NOTIFY subscriptions, which stop() ends. */
  readonly unsubscribe: (() => void)[];
  /** Spans of the attempts (traces.ts) when there is a tracer; null: traces off. */
  readonly traces: AttemptTraces | null;
}

export function makeNodeState(options: ResolvedExecutorOptions): NodeState {
  return {
    options,
    inflight: new Map(),
    serviceMs: 10,
    started: false,
    stopping: false,
    claiming: false,
    maybeWork: true,
    unannounced: new Set(),
    markedUnwritten: new Set(),
    background: new Set(),
    counters: makeLocalCounters(options.node),
    timers: [],
    unsubscribe: [],
    traces: options.tracer ? makeAttemptTraces(options.tracer, options.node) : null,
  };
}

/**
 * How many runs to hold: enough queued in the runtime to cover BUFFER_MS of work per worker.
 * Short tasks need deep buffers so that claims and writes come in large batches (a query costs
 * about the same for 1 row as for 50); long tasks must not be hoarded while other nodes idle.
 */
export function limit(s: NodeState): number {
  return Math.min(s.options.concurrency, s.options.workers * Math.max(2, Math.ceil(BUFFER_MS / s.serviceMs)));
}

/** Keeps a claim or a recovery in `background` while it runs. */
export function track(s: NodeState, p: Promise<void>): void {
  s.background.add(p);
  void p.finally(() => s.background.delete(p));
}
