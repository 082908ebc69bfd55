/**
 * The executor's public face, as the GraphQL layer and main.ts see it.
 * Owner: the executor. Extend freely; keep transport (HTTP/GraphQL) out.
 */
import type { OutcomeKind, TaskStatus } from '../domain/index.js';
import type { NewTask, TaskRow } from '../store/types.js';
import type { PoolStats } from '../runtime/types.js';

/** Published after every state change is written (DESIGN §5). */
export interface TaskEvent {
  taskId: string;
  tenantId: string;
  agentId: string;
  status: TaskStatus;
  /** Attempt number the event belongs to (0 before the first attempt). */
  attempt: number;
  outcome: OutcomeKind | null;
  exitCode: number | null;
  at: Date;
}

export interface TaskOutputEvent {
  taskId: string;
  tenantId: string;
  attempt: number;
  stream: 'stdout' | 'stderr';
  data: Uint8Array;
}

/**
 * Pub/sub topics (payloads). In-process by default, Redis fan-out with REDIS_URL, so a subscriber
 * on node A sees tasks executed on node B. TASK_EVENTS carries batches to keep Redis traffic low.
 */
export interface Topics {
  TASK_EVENTS: [events: TaskEvent[]];
  TASK_OUTPUT: [taskId: string, chunk: TaskOutputEvent];
  TASK_CANCEL: [taskIds: string[]];
  NODE_STATS: [summary: NodeSecondSummary];
}

/** One node's activity during one second, shared so every node can answer `stats` for the cluster. */
export interface NodeSecondSummary {
  node: string;
  /** Unix second. */
  second: number;
  finished: number;
  /** Counts per latency bucket (created → finished), bucket bounds in LATENCY_BUCKETS_MS. */
  latencyBuckets: number[];
  workers: number;
  busyWorkers: number;
}

export interface ClusterStats {
  /** Tasks finished per second, oldest first, one point per second (last 300 s). */
  throughputSeries: number[];
  throughputPerSec: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  latencyP99Ms: number | null;
  workers: number;
  busyWorkers: number;
}

export interface Executor {
  /** Recover expired leases, then start claiming. */
  start(): Promise<void>;
  /** Insert (idempotently), publish QUEUED events, wake the claim loop. Inputs are already validated. */
  submit(tasks: NewTask[]): Promise<{ task: TaskRow; created: boolean }[]>;
  /** Cancel a queued or running task (a running one is pre-empted on whichever node runs it). */
  cancel(tenantId: string, id: string): Promise<TaskRow | null>;
  /** Re-queue a FAILED or CANCELLED task. */
  retry(tenantId: string, id: string): Promise<TaskRow | null>;
  /** Stop claiming; wait up to graceMs for in-flight runs, then hand the rest back to the queue. */
  stop(graceMs?: number): Promise<void>;
  pool(): PoolStats;
  stats(): ClusterStats;
  /** Number of runs in flight on this node. */
  running(): number;
}
