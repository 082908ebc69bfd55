/**
 * The executor's public face, as the GraphQL layer and main.ts see it.
 * Owner: the executor. Extend freely; keep transport (HTTP/GraphQL) out.
 */
import type { OutcomeKind, TaskStatus } from '../domain/index.js';
import type { PubSub } from '@graphql-yoga/subscription';
import type { Tracer } from '@opentelemetry/api';
import type { AgentBuildRow, NewTask, Store, TaskRow } from '../store/types.js';
import type { PoolStats, Runtime } from '../runtime/types.js';

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
  /** Where `data` starts in the attempt's stream (the chunks of an attempt's stream are contiguous). */
  offset: number;
  data: Uint8Array;
}

/**
 * Pub/sub topics (payloads). In-process by default, Redis fan-out with REDIS_URL, so a subscriber
 * on node A sees tasks executed on node B. TASK_EVENTS carries batches to keep Redis traffic low.
 */
// A type alias, not an interface: PubSub<T> needs T to have an (implicit) index signature.
export type Topics = {
  TASK_EVENTS: [events: TaskEvent[]];
  TASK_OUTPUT: [taskId: string, chunk: TaskOutputEvent];
  TASK_CANCEL: [taskIds: string[]];
  /** Tasks deleted (deleteTasks, the retention sweep): their live subscriptions end, on every node. */
  TASK_DELETED: [taskIds: string[]];
  NODE_STATS: [summary: NodeSecondSummary];
  /**
   * One task's events (as one-event batches), for its own subscribers (taskUpdated, taskOutput):
   * derived by each node's bus from TASK_EVENTS, never published, so an event reaches only the
   * listeners of its task whatever the number of other subscriptions.
   */
  TASK_EVENTS_OF: [taskId: string, events: TaskEvent[]];
  /** Derived from TASK_DELETED, like TASK_EVENTS_OF: that one task was deleted (`[taskId]`). */
  TASK_DELETED_OF: [taskId: string, taskIds: string[]];
  /** A build asked for with buildAgent changed (services/build.jobs.ts): its row as it is now. */
  BUILD_UPDATED: [buildId: string, build: AgentBuildRow];
};

/** One node's activity during one second, shared so every node can answer `stats` for the cluster. */
/** Topics whose payload is one value (no dynamic id): the ones `EventBus.on` can listen to. */
export type PlainTopic = { [K in keyof Topics]: Topics[K] extends [unknown] ? K : never }[keyof Topics];

/**
 * The bus as subscriptions see it: yoga's pub/sub (`publish(topic, ...args)`, `subscribe(topic, id?)`:
 * an async iterator per subscription) and `listen`, a plain function called in the publisher's own
 * call, for a consumer that does its work there (the shared feeds: server/ws-shared.ts). Both are
 * subscriptions: unlike EventBus.on, they hear the ends replayed after a Redis gap.
 */
export interface BusPubSub extends PubSub<Topics> {
  /** Listens to a plain topic; returns the function that stops listening. */
  listen<K extends PlainTopic>(topic: K, listener: (payload: Topics[K][0]) => void): () => void;
}

/** The pub/sub every node shares (src/executor/events.ts builds it). */
export interface EventBus {
  /** For type-graphql's `pubSub` option and the resolvers. */
  pubsub: BusPubSub;
  /** Listens to a plain topic without an async iterator; returns the unsubscribe function. */
  on<K extends PlainTopic>(topic: K, listener: (payload: Topics[K][0]) => void): () => void;
  /** 'memory' or 'redis', for logs and /healthz. */
  kind: 'memory' | 'redis';
  /** The link to Redis as it is now (in process: always up), for /healthz and /metrics. */
  health(): PubSubHealth;
  /** Resolves true once the link to Redis is up (at once in process), false after `timeoutMs`. */
  whenUp(timeoutMs: number): Promise<boolean>;
  /** Closes the Redis connections (no-op in process). */
  close(): Promise<void>;
}

/**
 * The pub/sub link's state. 'connecting' until Redis first answers; 'down' while it cannot be
 * reached (publishes are dropped, other nodes' messages missed; the node itself works on).
 */
export interface PubSubHealth {
  kind: 'memory' | 'redis';
  state: 'up' | 'down' | 'connecting';
  /** When the current state began. */
  since: Date;
  /** The last connection error, while not up. */
  error?: string;
  /** Publishes dropped since start because Redis was unreachable (counted, logged once per outage). */
  droppedPublishes: number;
}

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

/**
 * The whole cluster, as every node sees it from the NODE_STATS summaries (no database query).
 * "Finished" means reached SUCCEEDED or FAILED; the current, incomplete second is left out.
 */
export interface ClusterStats {
  /** Tasks finished per second, oldest first, one point per second (last 300 s). */
  throughputSeries: number[];
  /** Mean of the last 10 points of throughputSeries. */
  throughputPerSec: number;
  /** Created → finished, over the last 60 s, interpolated in LATENCY_BUCKETS_MS; null without data. */
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  latencyP99Ms: number | null;
  /** Runtime workers of the nodes that reported in the last 5 s (pool() is this node's alone). */
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
  /** `cancel` for a batch of ids in one write, one publish; returns how many it cancelled. */
  cancelMany(tenantId: string, ids: string[]): Promise<number>;
  /** `retry` for a batch of ids in one write, one publish; returns how many it queued again. */
  retryMany(tenantId: string, ids: string[]): Promise<number>;
  /**
   * Deletes the ended tasks among a batch of ids with their attempts, ends their live
   * subscriptions on every node (TASK_DELETED) and deletes the blobs nothing names any more;
   * returns how many it deleted.
   */
  deleteMany(tenantId: string, ids: string[]): Promise<number>;
  /** Stop claiming; wait up to graceMs for in-flight runs, then hand the rest back to the queue. */
  stop(graceMs?: number): Promise<void>;
  pool(): PoolStats;
  stats(): ClusterStats;
  /** Number of runs in flight on this node. */
  running(): number;
}

/** The slice of a pino logger the executor uses (pino's Logger fits). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** Whether lines of this level are written (absent: assume they are). */
  isLevelEnabled?(level: 'debug'): boolean;
}

export interface ExecutorOptions {
  store: Store;
  runtime: Runtime;
  bus: EventBus;
  /** This node's id: lease owner and `TaskAttempt.node`. Unique per process (e.g. host:pid:random). */
  node: string;
  /**
   * Most runs in flight on this node (claimed, not finished; the runtime queues what its workers
   * cannot take yet). The executor holds fewer when runs are long: about 100 ms of work per worker,
   * at least 2 per worker. Default: runtime workers × 128.
   */
  concurrency?: number;
  /** Most tasks claimed per query. Default: concurrency. */
  claimBatch?: number;
  /** Lease length. Default 30 000 ms. A node that stops heartbeating loses its tasks after this. */
  leaseMs?: number;
  /** Lease renewal interval, < leaseMs / 3. Default leaseMs / 4. */
  heartbeatMs?: number;
  /** Fallback poll for work (missed notifications, other nodes' delayed tasks). Default 1 000 ms. */
  pollMs?: number;
  /** How often expired leases are looked for (besides at start). Default leaseMs / 2. */
  recoverMs?: number;
  /**
   * Extra time finished results wait to share one write. Default 0: results that finish while a
   * write is in flight are batched into the next one anyway, so batches grow with load.
   */
  finishBatchMs?: number;
  /**
   * Claim-on-insert (default true): a submit that arrives while this node has room for it and
   * nothing runnable is waiting is inserted already claimed by this node and starts at once,
   * saving the claim's round trip. Ordering is kept: it happens only when the queue holds nothing
   * that a claim would have taken first. Submitters still see the task as QUEUED; subscribers see
   * QUEUED then RUNNING as usual. Tasks with an idempotency key always go through the queue.
   *
   * The runs start before their rows are written (a guest's only effects are its captured output
   * and files, and nobody knows the ids yet), and runs that end within `settleOnInsertMs` are
   * written with their rows, already finished: from submit to the end of a short task, one write.
   */
  claimOnInsert?: boolean;
  /**
   * How long a claim-on-insert waits for its runs to end before writing their rows (it waits only
   * while runs take this long or less on average). Default 2 ms; 0 never waits.
   */
  settleOnInsertMs?: number;
  /**
   * QUOTA_RUNNING_TASKS: most RUNNING tasks per tenant on the whole cluster, for tenants without an
   * override (tenant.quotas.runningTasks). Default 0: no cap. While any cap is in force claims take
   * the capped statement (src/store/capped-claim.ts) and capped tenants' submits are never claimed on insert.
   */
  runningTasksCap?: number;
  /** Result writes (and, separately, submit inserts) in flight at once. Default 2 on PostgreSQL (pipelined), 1 on PGlite (one connection). */
  writeParallel?: number;
  /** Most results in one finish write. Default 500. */
  finishBatchMax?: number;
  /** Random source for backoff jitter (tests inject a fixed one). Default Math.random. */
  random?: () => number;
  logger?: Logger;
  /** Told as runs start and dead nodes' tasks are taken over (metrics). Default: nobody. */
  observer?: ExecutorObserver;
  /**
   * Traces on (the server sets up the SDK): spans of every attempt, joining the trace its submit
   * stored (traces.ts). Default none: the executor does no tracing work at all.
   */
  tracer?: Tracer;
}

/** What the executor reports as it goes, for metrics. Called on the hot path: keep it cheap. */
export interface ExecutorObserver {
  /** A worker began a task that had been due for `waitMs` (since its submit, or the end of its backoff or runAt). */
  started(waitMs: number): void;
  /** Tasks of nodes whose lease expired, taken over: put back in the queue (only claimed), or recorded as a lost attempt (they were running). */
  recovered(kind: 'requeued' | 'lost_attempt', tasks: number): void;
}
