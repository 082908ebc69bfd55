/**
 * The store's public face: small interfaces over Prisma and the blob stores. Nothing outside
 * src/store sees Prisma or minio types. Rows are plain objects; bytes are Uint8Array; 64-bit
 * counters are bigint.
 *
 * Owner: the store. Extend freely, but keep every method one clear job and keep Prisma out.
 *
 * Longer than 300 lines on purpose: it is the whole contract between the store and its users,
 * mostly doc comments on rows and repository methods, and splitting it would scatter one interface
 * over files that each import the others.
 */
import type { ApiKeyRole, FileEntry, Limits, Mount, OutcomeKind, QuotaOverrides, RetainedStatus, RetentionOverrides, RetryPolicy, TaskStatus, TrapCode } from '../domain/index.js';

/** The tenant the first migration creates (defined in the domain; named here for the store's users and tests). */
export { DEFAULT_TENANT_ID } from '../domain/index.js';

// ---------- rows ----------

export interface AgentRow {
  id: string;
  tenantId: string;
  name: string;
  description: string | null;
  latestVersion: number;
  createdAt: Date;
  updatedAt: Date;
  /** Set when the agent was deleted (soft delete): `get` still finds it, by name and in lists it is gone. */
  deletedAt: Date | null;
  /** Its tasks are not claimed while set (submits still queue them). */
  paused: boolean;
  /** At most this many of its tasks held at once (claimed or RUNNING), cluster-wide; null = none. */
  concurrencyLimit: number | null;
}

export interface AgentVersionRow {
  id: string;
  agentId: string;
  tenantId: string;
  version: number;
  moduleDigest: string;
  moduleSize: number;
  imports: { module: string; name: string; kind: string }[];
  exports: { name: string; kind: string }[];
  memoryInitialPages: number | null;
  memoryMaximumPages: number | null;
  defaultLimits: Partial<Limits>;
  createdAt: Date;
}

/**
 * Claim-on-insert: the created rows are written already claimed by `node` (leased for `leaseMs`,
 * created and queued at `at`), as if a claim had taken them the moment they were queued. Rows
 * that already existed (idempotency key) come back as they are, unclaimed.
 */
export interface ClaimOnInsert {
  node: string;
  leaseMs: number;
  /** When the tasks were submitted (default: the database's now(); never later than that). */
  at?: Date;
  /**
   * Runs that a worker has begun, by task id, with when: those rows go in RUNNING (attempt 1,
   * started then) instead of claimed, which spares them the write that would mark them later.
   */
  started?: ReadonlyMap<string, Date>;
  /**
   * Results of runs that already ended, by task id (the ids the tasks were given): those rows are
   * written straight in their next state (`result.next`) with the attempt recorded, in the same
   * statement, so a short task costs one write from submit to its end. Only for tasks with
   * pre-assigned ids and no idempotency key.
   */
  settled?: ReadonlyMap<string, AttemptResult>;
}

export interface TaskRow {
  id: string;
  tenantId: string;
  agentId: string;
  agentVersionId: string;
  /** Digest of the agent version's module (denormalised for the executor's hot path). */
  moduleDigest: string;
  status: TaskStatus;
  priority: number;
  stdin: Uint8Array;
  args: string[];
  env: Record<string, string>;
  /** Digest of the input files bundle in the blob store, or null for none. */
  filesDigest: string | null;
  limits: Limits;
  /** Stored in the `retry` column. */
  retryPolicy: RetryPolicy;
  deterministic: { seed: number; epochMs: number } | null;
  idempotencyKey: string | null;
  /** The submit's W3C trace context (`traceparent`, `tracestate`), which its attempts' spans join; null with traces off. */
  traceContext: TraceContext | null;
  /** argv[0] and mounts the submit asked for; null (or a field absent) = the defaults. */
  wasi: TaskWasi | null;
  /** Attempts started so far (the next attempt is attempts + 1). */
  attempts: number;
  /**
   * Attempts that belong to earlier budgets. A manual `retry` sets it to `attempts`, so the rule
   * the executor applies is: another attempt is allowed while `attempts - attemptBase < retryPolicy.maxAttempts`.
   */
  attemptBase: number;
  /** Not before this time (a delay at submit, or a retry's backoff). */
  runAt: Date;
  /**
   * When the task entered the queue by a user's action: set at submit, reset by a manual retry,
   * kept across automatic retries and lease recovery. Claims take due tasks by (priority desc,
   * queuedAt, id), so a retry or a recovered task keeps its place.
   */
  queuedAt: Date;
  /**
   * The node holding the task: a claim leases it (the status stays QUEUED/RETRYING until a worker
   * starts the run, then RUNNING). Cleared when the attempt is written; a cancel leaves it (it
   * names the node to pre-empt).
   */
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  /** Summary of the last finished attempt. */
  lastOutcome: OutcomeKind | null;
  exitCode: number | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface TaskAttemptRow {
  id: string;
  taskId: string;
  tenantId: string;
  n: number;
  node: string;
  outcome: OutcomeKind;
  exitCode: number | null;
  stdout: Uint8Array;
  stderr: Uint8Array;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  trapCode: TrapCode | null;
  trapMessage: string | null;
  error: string | null;
  compileMs: number;
  runMs: number;
  fuelUsed: bigint | null;
  memoryPeakBytes: number;
  /** Files the guest wrote: metadata here, bytes in the blob store under `filesDigest`. */
  files: { path: string; size: number }[];
  filesDigest: string | null;
  startedAt: Date;
  finishedAt: Date;
  /**
   * A late result of a node that no longer held the task (its lease had been taken over, or the
   * task had moved on): recorded beside the attempt that replaced it, it changed nothing.
   */
  stale: boolean;
}

export interface TenantRow {
  id: string;
  name: string;
  createdAt: Date;
  /** Quota overrides; null = the server default. */
  quotas: QuotaOverrides;
  /** Retention overrides (ms; null = the server default, 0 = kept forever). */
  retention: RetentionOverrides;
}

export interface ApiKeyRow {
  id: string;
  tenantId: string;
  name: string;
  /** The first characters of the key, to tell keys apart in lists; never enough to use it. */
  prefix: string;
  /** sha256 (hex) of the whole secret; the secret itself is never stored. */
  secretHash: string;
  role: ApiKeyRole;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** A stored module (blob) as one tenant sees it: shared bytes are counted for every tenant that stored them. */
export interface ModuleRow {
  digest: string;
  size: number;
  /** When this tenant first stored it. */
  createdAt: Date;
}

// ---------- inputs ----------

export interface NewAgentVersion {
  tenantId: string;
  name: string;
  description?: string | null;
  moduleDigest: string;
  moduleSize: number;
  imports: AgentVersionRow['imports'];
  exports: AgentVersionRow['exports'];
  memoryInitialPages: number | null;
  memoryMaximumPages: number | null;
  defaultLimits: Partial<Limits>;
  /** Sets the agent's concurrency limit; absent or null = leaves it as it is. */
  concurrencyLimit?: number | null;
}

/** The user's controls of an agent; an absent field is left as it is. */
export interface AgentControls {
  paused?: boolean;
  /** null = no limit. */
  concurrencyLimit?: number | null;
}

/** An agent's figures over a recent window (AgentRepository.stats). */
export interface AgentStatsRow {
  since: Date;
  /** Tasks created in the window that were read: at most `maxTasks`, the newest. */
  tasks: number;
  /** The window held more than `maxTasks` tasks: the figures are of the newest ones. */
  truncated: boolean;
  byStatus: Record<TaskStatus, number>;
  /** Attempts of those tasks (stale ones aside) and their run time percentiles, ms; null without attempts. */
  attempts: number;
  runMsP50: number | null;
  runMsP95: number | null;
  runMsP99: number | null;
}

export interface NewTask {
  /** Pre-assigned id (a UUIDv7, see store/ids.ts); the store assigns one when absent. */
  id?: string;
  tenantId: string;
  agentId: string;
  /** The agent's name, for task search (store/search-text.ts); absent = not searchable by it. */
  agentName?: string;
  agentVersionId: string;
  moduleDigest: string;
  priority: number;
  stdin: Uint8Array;
  args: string[];
  env: Record<string, string>;
  filesDigest: string | null;
  limits: Limits;
  retryPolicy: RetryPolicy;
  deterministic: { seed: number; epochMs: number } | null;
  idempotencyKey: string | null;
  runAt: Date;
  /** See TaskRow.traceContext; absent = null. */
  traceContext?: TraceContext | null;
  /** See TaskRow.wasi; absent = null. */
  wasi?: TaskWasi | null;
}

/** A task's WASI options (the `wasi` column): argv[0] (default the agent's name) and its mounts (default "/" alone). */
export interface TaskWasi {
  argv0?: string;
  mounts?: Mount[];
}

/** A W3C trace context as its headers carry it (OpenTelemetry's propagation.inject fills one). */
export type TraceContext = Record<string, string>;

/**
 * The result of one attempt, written together with the task's next state: the attempt row before
 * it exists (the store assigns its id and tenant; a finish decides whether it is stale).
 */
export interface AttemptResult extends Omit<TaskAttemptRow, 'id' | 'tenantId' | 'stale'> {
  /** The task's next state: a terminal status, or RETRYING with the time of the next attempt. */
  next: { status: 'SUCCEEDED' | 'FAILED' | 'CANCELLED' } | { status: 'RETRYING'; runAt: Date };
}

/** A run a worker has begun: its claimed task becomes RUNNING with attempt `n`, started `at`. */
export interface StartedRun {
  taskId: string;
  n: number;
  at: Date;
}

/** A task as a heartbeat found it (after the statement). */
export interface LeaseState {
  id: string;
  /** Whether the heartbeating node still holds it (claimed or RUNNING under its lease). */
  held: boolean;
  status: TaskStatus;
  attempts: number;
  /** Who holds it now (for a cancelled task: the node that held it). */
  leaseOwner: string | null;
  updatedAt: Date;
}

/**
 * A task as a finish left it: the columns its end needs (the event, the counters, the log line),
 * not the whole row, whose input columns (stdin, args, env, JSON settings) a result write never
 * changes and reading them back cost every write their transfer and parsing. `stale`: this write
 * did not move the task (only the attempt was recorded, or nothing). `alreadyWritten` (a rewrite
 * with `mayBeWritten` only, else empty): the attempt numbers among the results for this task that
 * the earlier write had recorded already, not late: their ends are this node's to publish.
 */
export type FinishedTask = Pick<TaskRow, (typeof FINISHED_FIELDS)[number]> & { stale: boolean; alreadyWritten: number[] };

/** The columns of a FinishedTask. */
export const FINISHED_FIELDS = ['id', 'tenantId', 'agentId', 'status', 'attempts', 'leaseOwner', 'lastOutcome', 'exitCode', 'queuedAt', 'updatedAt', 'finishedAt'] as const;

export interface TaskFilter {
  status?: TaskStatus[];
  agentId?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  /**
   * Tasks whose search text (store/search-text.ts) contains it, case-insensitively, or whose id
   * starts with it. At least 3 characters (a trigram), checked by the service.
   */
  search?: string;
}

/** What a task list is sorted by (then by id, in the same direction). */
export const TASK_ORDER_FIELDS = ['createdAt', 'finishedAt', 'duration', 'priority'] as const;
export type TaskOrderField = (typeof TASK_ORDER_FIELDS)[number];

/** A task list's order: `duration` is finishedAt − createdAt; tasks without the key (not finished) come last either way. */
export interface TaskOrder {
  field: TaskOrderField;
  direction: 'asc' | 'desc';
}

export const DEFAULT_TASK_ORDER: TaskOrder = { field: 'createdAt', direction: 'desc' };

/**
 * A position in a tenant's task list: the last row of the previous page, by its sort key (ms since
 * the epoch for times, ms for duration, the priority; null when the row has none) and id.
 */
export interface TaskCursor {
  value: number | null;
  id: string;
}

/** A count that is exact up to a cap and past it the planner's estimate (store/task-count.ts). */
export interface TaskCount {
  count: number;
  /** False: `count` is an estimate, and more than the cap tasks exist. */
  exact: boolean;
}

export interface Page<T> {
  rows: T[];
  hasNextPage: boolean;
}

// ---------- repositories ----------

export interface AgentRepository {
  /** Creates the agent on first registration, else adds version latestVersion + 1. */
  /**
   * Adds version latest + 1 (creating the agent on first registration), unless the latest version
   * is the same registration: the same module digest and default limits, with no description or
   * the agent's own. Then returns that version (created: false) and changes nothing. Concurrent
   * registrations of one name take turns on the agent's row, so identical ones add one version.
   */
  registerVersion(v: NewAgentVersion): Promise<{ agent: AgentRow; version: AgentVersionRow; created: boolean }>;
  get(tenantId: string, id: string): Promise<AgentRow | null>;
  /**
   * The agent's name (a run's argv[0]), deleted or not, or null when there is no such agent. For the
   * executor: read in its lane (never behind API statements, no statement timeout), not Prisma's.
   */
  name(tenantId: string, id: string): Promise<string | null>;
  getByName(tenantId: string, name: string): Promise<AgentRow | null>;
  list(tenantId: string): Promise<AgentRow[]>;
  versions(agentId: string): Promise<AgentVersionRow[]>;
  version(agentId: string, version?: number): Promise<AgentVersionRow | null>;
  getVersion(id: string): Promise<AgentVersionRow | null>;
  /** Soft-deletes the agent (its tasks and versions stay readable). */
  delete(tenantId: string, id: string): Promise<boolean>;
  /**
   * Sets pause and the concurrency limit (the claim reads them: agent-claim.ts); the agent as it is
   * then, or null when there is none. This store's claim cache sees it at once, other nodes' within CAPS_CACHE_MS.
   */
  setControls(tenantId: string, id: string, controls: AgentControls): Promise<AgentRow | null>;
  /** The agent's figures over the tasks created in the last `windowMs` (the newest `maxTasks` of them). */
  stats(tenantId: string, agentId: string, windowMs: number, maxTasks: number): Promise<AgentStatsRow>;
}

export interface TaskRepository {
  /**
   * Inserts tasks in one statement. A task whose (tenantId, idempotencyKey) already exists is not
   * inserted again: the existing row comes back with created = false. Order follows the input.
   */
  insertMany(tasks: NewTask[], claimFor?: ClaimOnInsert): Promise<{ task: TaskRow; created: boolean }[]>;
  /**
   * Claims up to `limit` due tasks (QUEUED or RETRYING, not leased, runAt <= now) with
   * FOR UPDATE SKIP LOCKED, in claim order (priority desc, queuedAt, id): sets the lease (owner,
   * now + leaseMs) and nothing else. Status and attempts stay as they are until a worker starts
   * the run (heartbeat `started`, or the finish of a run that ended first). Returned in claim order.
   *
   * Running-task caps (`defaultRunningCap` = QUOTA_RUNNING_TASKS for tenants without an override,
   * 0 = none): while any is in force (see runningCaps), no tenant holds more tasks (claimed or
   * RUNNING) than its cap, cluster-wide; its other tasks are skipped and other tenants' claimed.
   */
  claim(node: string, limit: number, leaseMs: number, defaultRunningCap?: number): Promise<TaskRow[]>;
  /**
   * The running-task caps in force, from a cache (a query at most every few seconds, none per
   * claim); TenantRepository.setQuotas on this store refreshes it at once.
   */
  runningCaps(defaultRunningCap: number): Promise<RunningCaps>;
  /**
   * Up to `limit` tasks whose lease expired (their node died or stalled), except those in `keep`
   * (this node's own, still in hand). A RUNNING one is taken over: the lease moves to `node`,
   * attempts unchanged (the caller records attempt `attempts` as host_error). A claimed one, never
   * started, goes back to the queue in its place (lease cleared, no attempt). `lostOwner` is the
   * node whose lease expired; the status says which of the two happened.
   */
  reclaimExpired(node: string, limit: number, leaseMs: number, keep?: string[]): Promise<(TaskRow & { lostOwner: string | null })[]>;
  /**
   * Extends the leases `node` holds among `taskIds` (claimed or RUNNING), and in the same
   * statement marks the runs in `started` (a subset) as begun: claimed → RUNNING, attempts = n,
   * startedAt. Returns the state of every listed task that exists; `held: false` means this node
   * lost it (taken over after its lease expired, cancelled, or back in the queue).
   */
  heartbeat(node: string, taskIds: string[], leaseMs: number, started?: StartedRun[]): Promise<LeaseState[]>;
  /**
   * Writes attempts and the tasks' next states in one statement. A task moves only while `node`
   * holds that attempt: RUNNING with attempts = n, or still claimed with attempts = n - 1 (a run that
   * ended before it was marked RUNNING goes claimed → its next state in this one write). A task
   * cancelled under the node keeps CANCELLED, with the attempt recorded. Any other result is late:
   * recorded as a stale attempt, the task untouched. Returns the tasks as written (moved or not),
   * `stale` set for the late ones. `mayBeWritten`: an earlier write of some of these results may
   * have committed though its answer was lost; results already recorded are then not kept again,
   * and their task comes back `stale` (not moved by this write) with their numbers in `alreadyWritten`.
   */
  finish(results: AttemptResult[], opts?: { mayBeWritten?: boolean }): Promise<FinishedTask[]>;
  /**
   * Gives tasks held by `node` back to the queue (graceful shutdown): claimed ones lose their
   * lease; RUNNING ones become QUEUED with the attempt undone. Both keep their place (queuedAt).
   */
  release(node: string, taskIds: string[]): Promise<void>;
  /** QUEUED/RETRYING/RUNNING (claimed or not) → CANCELLED; the lease owner stays. Returns the row after, or null when not found. */
  cancel(tenantId: string, id: string): Promise<TaskRow | null>;
  /** FAILED/CANCELLED → QUEUED with a fresh attempt budget, at the back of the queue (queuedAt = now). Returns the row after, or null when not found. */
  retry(tenantId: string, id: string): Promise<TaskRow | null>;
  /**
   * A bulk action's selection: up to `limit` ids of the tenant's tasks that match the filter and are
   * in one of `statuses`, oldest first, and how many match in all (`total`, beyond the limit too).
   */
  selectForAction(tenantId: string, filter: TaskFilter, statuses: readonly TaskStatus[], limit: number): Promise<{ ids: string[]; total: number }>;
  /** `cancel` for a batch of ids (one statement); returns the rows it cancelled, the others were not cancellable or not the tenant's. */
  cancelMany(tenantId: string, ids: string[]): Promise<TaskRow[]>;
  /** `retry` for a batch of ids (one statement); returns the rows it queued again. */
  retryMany(tenantId: string, ids: string[]): Promise<TaskRow[]>;
  /**
   * Deletes the ended tasks among the ids with their attempts (one statement; rows another statement
   * holds are skipped and returned as `busy`); returns the ids deleted and the file bundles they named.
   */
  deleteMany(tenantId: string, ids: string[]): Promise<{ ids: string[]; busy: string[]; digests: string[] }>;
  get(tenantId: string, id: string): Promise<TaskRow | null>;
  getMany(ids: string[]): Promise<TaskRow[]>;
  /** One page in `order` (default createdAt desc), after the cursor's row; no count (see `count`, a read of its own). */
  list(tenantId: string, filter: TaskFilter, first: number, after?: TaskCursor, order?: TaskOrder): Promise<Page<TaskRow>>;
  /** The tenant's tasks matching the filter: exact up to `cap` (reads at most cap + 1 index entries), past it an estimate. */
  count(tenantId: string, filter: TaskFilter, cap: number): Promise<TaskCount>;
  /** Every attempt by number; a stale one comes before the attempt of the same number. */
  attempts(taskId: string): Promise<TaskAttemptRow[]>;
  /** Tasks per status of a tenant (null: all tenants), each exact up to `cap`, past it an estimate. */
  countByStatus(tenantId: string | null, cap: number): Promise<Record<TaskStatus, TaskCount>>;
  /** The tenant's unfinished tasks only (quotas on the submit path): waiting = QUEUED + RETRYING. */
  countActive(tenantId: string): Promise<{ waiting: number; running: number }>;
  /**
   * Earliest runAt among waiting tasks held back past their queuing (a delay at submit, a retry's
   * backoff), to arm a timer for them; null when none. Tasks due at submission are not looked at.
   */
  nextRunAt(): Promise<Date | null>;
  /**
   * Tasks in a terminal status whose finishedAt lies in [since, until], in (finishedAt, id) order
   * (newest first with `newestFirst`), past the `after` cursor in that order, at most `limit`.
   * With `node`: only those whose last attempt (not stale) was that node's, i.e. whose end it wrote.
   * The executor's background reads: the replay after a pub/sub outage (pages) and the last ends of
   * a lost node (newest first). In the executor's lane; reads task_finished_idx.
   */
  finishedBetween(
    since: Date,
    until: Date,
    limit: number,
    opts?: { after?: { finishedAt: Date; id: string }; node?: string; newestFirst?: boolean },
  ): Promise<TaskEnd[]>;
}

/** What announces a task's end: its state, not its payload (TaskRepository.finishedBetween). */
export type TaskEnd = Pick<TaskRow, 'id' | 'tenantId' | 'agentId' | 'status' | 'attempts' | 'lastOutcome' | 'exitCode' | 'updatedAt'> & { finishedAt: Date };

/** Running-task caps as a claim sees them. */
export interface RunningCaps {
  /** Whether any tenant's RUNNING tasks are capped; when not, claims take the plain statement. */
  inForce: boolean;
  /** The tenant's cap: its override, else the default; 0 = none. */
  of(tenantId: string): number;
  /** Whether any agent is paused or has a concurrency limit; when so, claims take the agent-aware statement (agent-claim.ts). */
  agentsInForce: boolean;
  /** Whether this agent is paused or limited: only a claim may take its tasks (never claim-on-insert). */
  controls(agentId: string): boolean;
}

export interface TenantRepository {
  /** Creates a tenant (with quota overrides, absent = none); fails with CONFLICT when the name is taken. */
  create(name: string, quotas?: Partial<QuotaOverrides>): Promise<TenantRow>;
  /** Sets the given overrides (null clears one; absent ones stay). Returns the row after, or null when not found. */
  setQuotas(id: string, quotas: Partial<QuotaOverrides>): Promise<TenantRow | null>;
  get(id: string): Promise<TenantRow | null>;
  getByName(name: string): Promise<TenantRow | null>;
  list(): Promise<TenantRow[]>;
  /** Sets the given retention overrides (null clears one; absent ones stay). Returns the row after, or null when not found. */
  setRetention(id: string, retention: Partial<RetentionOverrides>): Promise<TenantRow | null>;
}

export interface NewApiKey {
  tenantId: string;
  name: string;
  prefix: string;
  secretHash: string;
  role: ApiKeyRole;
}

export interface ApiKeyRepository {
  create(k: NewApiKey): Promise<ApiKeyRow>;
  /** The key with this secret hash, revoked or not (the caller checks `revokedAt`), or null. */
  findByHash(secretHash: string): Promise<ApiKeyRow | null>;
  /** A tenant's keys, newest first, revoked ones included. */
  list(tenantId: string): Promise<ApiKeyRow[]>;
  /** Sets revokedAt (once). Returns the row after, or null when not found in this tenant. */
  revoke(tenantId: string, id: string): Promise<ApiKeyRow | null>;
  /** Records a use (lastUsedAt = now). Cheap; callers may skip it when the last touch is recent. */
  touch(id: string): Promise<void>;
}

export interface ModuleRepository {
  /** Records that `tenantId` stored the blob `digest` of `size` bytes (idempotent). */
  record(tenantId: string, digest: string, size: number): Promise<void>;
  /** The module as `tenantId` stored it, or null when this tenant never stored it. */
  get(tenantId: string, digest: string): Promise<ModuleRow | null>;
  list(tenantId: string): Promise<ModuleRow[]>;
  /** Sum of the sizes of the modules this tenant stored (for quotas). */
  storedBytes(tenantId: string): Promise<number>;
}

/** A successful build from source (store/builds.ts). */
export interface SourceBuildRow {
  inputDigest: string;
  moduleDigest: string;
  language: string;
  compiler: string;
  log: string;
  diagnostics: { severity: string; code: string; message: string; file: string | null; line: number | null; column: number | null }[];
  buildMs: number;
  createdAt: Date;
}

export interface BuildRepository {
  /** The build of these inputs this tenant made before, or null. */
  get(tenantId: string, inputDigest: string): Promise<SourceBuildRow | null>;
  /** Keeps a successful build (after its module is recorded for the tenant); idempotent. */
  record(tenantId: string, build: Omit<SourceBuildRow, 'createdAt'>): Promise<void>;
}

export type AgentBuildStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

/** A build asked for with buildAgent (store/builds.ts). */
export interface AgentBuildRow {
  id: string;
  tenantId: string;
  agentName: string;
  language: string;
  status: AgentBuildStatus;
  log: string;
  diagnostics: SourceBuildRow['diagnostics'];
  error: string | null;
  cached: boolean;
  agentId: string | null;
  agentVersion: number | null;
  node: string;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  heartbeatAt: Date;
}

export interface AgentBuildRepository {
  create(row: Pick<AgentBuildRow, 'tenantId' | 'agentName' | 'language' | 'node'>): Promise<AgentBuildRow>;
  /** Changes a build's state (and renews its heartbeat); the row as it is now. */
  update(id: string, change: Partial<Pick<AgentBuildRow, 'status' | 'log' | 'diagnostics' | 'error' | 'cached' | 'agentId' | 'agentVersion' | 'startedAt' | 'finishedAt'>>): Promise<AgentBuildRow>;
  /** Renews the heartbeat of builds this node is doing. */
  heartbeat(ids: string[]): Promise<void>;
  get(tenantId: string, id: string): Promise<AgentBuildRow | null>;
}

export interface BlobStore {
  /** Stores bytes under their sha256 (hex) and returns it; storing the same bytes twice is a no-op. */
  put(bytes: Uint8Array): Promise<string>;
  /** Streams into the store, failing with a SpindleError (LIMIT_EXCEEDED) past maxBytes. */
  putStream(stream: AsyncIterable<Uint8Array>, maxBytes: number): Promise<{ digest: string; size: number }>;
  get(digest: string): Promise<Uint8Array | null>;
  has(digest: string): Promise<boolean>;
  delete(digest: string): Promise<void>;
  /** 'fs' (a local directory) or 's3', for logs and /healthz. */
  kind: 'fs' | 's3';
  /** Up to `limit` blobs in digest order after `after` (null = from the start), with when each was written (blob GC). */
  list(after: string | null, limit: number): Promise<{ digest: string; writtenAt: Date }[]>;
  /**
   * Throws when blobs cannot be written or read now (the directory gone, S3 unreachable). Cheap
   * enough for /healthz every second: S3 answers from its last probe for a few seconds.
   */
  ping(): Promise<void>;
}

/** What one sweep batch removed. */
export interface SweepBatch {
  tasks: number;
  /** The deleted tasks' ids. */
  ids: string[];
  attempts: number;
  /** File bundles (inputs and outputs) the deleted rows named, each once; other rows may still name them. */
  digests: string[];
}

/** The retention sweeper's statements (src/store/retention.ts): bounded, short, safe on several nodes at once. */
export interface RetentionRepository {
  /**
   * Deletes up to `limit` tasks of this ended status that ended longer ago than their tenant's
   * retention for it (its override, else `defaultMs`; undefined or 0 = kept forever), oldest first
   * per tenant, with their attempts; rows another sweeper holds are skipped.
   */
  sweepFinished(status: RetainedStatus, defaultMs: number | undefined, limit: number): Promise<SweepBatch>;
  /** The digests among these that no task, attempt or module names any more (at most a batch's worth). */
  unreferenced(digests: string[]): Promise<string[]>;
  /** Deletes up to `limit` agents deleted before `before` that have no task left, with their versions. */
  forgetDeletedAgents(before: Date, limit: number): Promise<{ agents: number; versions: number }>;
  /**
   * Deletes the records of up to `limit` modules that no agent version uses and nobody stored since
   * `before`; returns their digests (the caller deletes the blobs nothing else names).
   */
  forgetUnusedModules(before: Date, limit: number): Promise<string[]>;
  /** What the tenant's attempts store now, in bytes (QUOTA_TASK_BYTES): the sum of its task_bytes ledger. */
  taskBytes(tenantId: string): Promise<number>;
  /** Folds the task_bytes ledger into one row per tenant (the sweeper, each pass), so `taskBytes` reads few rows. */
  foldTaskBytes(): Promise<void>;
  /** Makes deleted rows' space reusable now (VACUUM of task and task_attempt; skipped when another node holds them; on PGlite also a CHECKPOINT, so its WAL is recycled). */
  reclaimSpace(): Promise<void>;
}

export interface Store {
  agents: AgentRepository;
  tasks: TaskRepository;
  tenants: TenantRepository;
  apiKeys: ApiKeyRepository;
  modules: ModuleRepository;
  builds: BuildRepository;
  agentBuilds: AgentBuildRepository;
  blobs: BlobStore;
  /** Which database backs the store ('pglite' | 'postgres'), for logs and /healthz. */
  kind: 'pglite' | 'postgres';
  /** Cross-node wake-up: NOTIFY on PostgreSQL, in-process on PGlite. */
  notifyQueued(): Promise<void>;
  onQueued(listener: () => void): () => void;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** The retention sweeper's deletes. */
  retention: RetentionRepository;
}

/** Encode/decode the input files bundle stored as one blob. */
export type FilesBundle = FileEntry[];
