/**
 * The store's public face: small interfaces over Prisma and the blob stores. Nothing outside
 * src/store sees Prisma or minio types. Rows are plain objects; bytes are Uint8Array; 64-bit
 * counters are bigint.
 *
 * Owner: the store. Extend freely, but keep every method one clear job and keep Prisma out.
 */
import type { FileEntry, Limits, OutcomeKind, QuotaOverrides, RetryPolicy, TaskStatus, TrapCode } from '../domain/index.js';

export const DEFAULT_TENANT_ID = '00000000-0000-0000-0000-000000000000';

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
 * Claim-on-insert: the created rows are written already claimed by `node` (RUNNING, attempt 1,
 * leased for `leaseMs`, created and started at `at`), as if a claim had taken them the moment they
 * were queued. Rows that already existed (idempotency key) come back as they are, unclaimed.
 */
export interface ClaimOnInsert {
  node: string;
  leaseMs: number;
  /** When the tasks were submitted (default: the database's now(); never later than that). */
  at?: Date;
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
  retry: RetryPolicy;
  deterministic: { seed: number; epochMs: number } | null;
  idempotencyKey: string | null;
  /** Attempts started so far (the next attempt is attempts + 1). */
  attempts: number;
  /**
   * Attempts that belong to earlier budgets. A manual `retry` sets it to `attempts`, so the rule
   * the executor applies is: another attempt is allowed while `attempts - attemptBase < retry.maxAttempts`.
   */
  attemptBase: number;
  runAt: Date;
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
}

export interface TenantRow {
  id: string;
  name: string;
  createdAt: Date;
  /** Quota overrides; null = the server default. */
  quotas: QuotaOverrides;
}

export const API_KEY_ROLES = ['admin', 'submitter', 'viewer'] as const;
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

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
}

export interface NewTask {
  /** Pre-assigned id (a UUIDv7, see store/ids.ts); the store assigns one when absent. */
  id?: string;
  tenantId: string;
  agentId: string;
  agentVersionId: string;
  moduleDigest: string;
  priority: number;
  stdin: Uint8Array;
  args: string[];
  env: Record<string, string>;
  filesDigest: string | null;
  limits: Limits;
  retry: RetryPolicy;
  deterministic: { seed: number; epochMs: number } | null;
  idempotencyKey: string | null;
  runAt: Date;
}

/** The result of one attempt, written together with the task's next state. */
export interface AttemptResult {
  taskId: string;
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
  files: { path: string; size: number }[];
  filesDigest: string | null;
  startedAt: Date;
  finishedAt: Date;
  /** The task's next state: a terminal status, or RETRYING with the time of the next attempt. */
  next: { status: 'SUCCEEDED' | 'FAILED' | 'CANCELLED' } | { status: 'RETRYING'; runAt: Date };
}

export interface TaskFilter {
  status?: TaskStatus[];
  agentId?: string;
  createdAfter?: Date;
  createdBefore?: Date;
}

export interface Page<T> {
  rows: T[];
  hasNextPage: boolean;
  totalCount: number;
}

// ---------- repositories ----------

export interface AgentRepository {
  /** Creates the agent on first registration, else adds version latestVersion + 1. */
  registerVersion(v: NewAgentVersion): Promise<{ agent: AgentRow; version: AgentVersionRow }>;
  get(tenantId: string, id: string): Promise<AgentRow | null>;
  getByName(tenantId: string, name: string): Promise<AgentRow | null>;
  list(tenantId: string): Promise<AgentRow[]>;
  versions(agentId: string): Promise<AgentVersionRow[]>;
  version(agentId: string, version?: number): Promise<AgentVersionRow | null>;
  getVersion(id: string): Promise<AgentVersionRow | null>;
  /** Soft-deletes the agent (its tasks and versions stay readable). */
  delete(tenantId: string, id: string): Promise<boolean>;
}

export interface TaskRepository {
  /**
   * Inserts tasks in one statement. A task whose (tenantId, idempotencyKey) already exists is not
   * inserted again: the existing row comes back with created = false. Order follows the input.
   */
  insertMany(tasks: NewTask[], claimFor?: ClaimOnInsert): Promise<{ task: TaskRow; created: boolean }[]>;
  /**
   * Claims up to `limit` runnable tasks (QUEUED or RETRYING with runAt <= now) with
   * FOR UPDATE SKIP LOCKED, ordered by priority desc, runAt, createdAt: sets RUNNING,
   * attempts + 1, the lease (owner, now + leaseMs) and startedAt (first time).
   *
   * Running-task caps (`defaultRunningCap` = QUOTA_RUNNING_TASKS for tenants without an override,
   * 0 = none): while any is in force (see runningCaps), no tenant gets more RUNNING tasks than its
   * cap, cluster-wide; its other tasks are skipped and other tenants' claimed in their place.
   */
  claim(node: string, limit: number, leaseMs: number, defaultRunningCap?: number): Promise<TaskRow[]>;
  /**
   * The running-task caps in force, from a cache (a query at most every few seconds, none per
   * claim); TenantRepository.setQuotas on this store refreshes it at once.
   */
  runningCaps(defaultRunningCap: number): Promise<RunningCaps>;
  /**
   * Takes over up to `limit` RUNNING tasks whose lease expired (their node died): the lease moves
   * to `node`; attempts is unchanged (the caller records attempt `attempts` as host_error).
   * `lostOwner` is the node whose lease expired.
   */
  reclaimExpired(node: string, limit: number, leaseMs: number): Promise<(TaskRow & { lostOwner: string | null })[]>;
  /** Extends the lease of these RUNNING tasks held by `node`. */
  heartbeat(node: string, taskIds: string[], leaseMs: number): Promise<void>;
  /**
   * Writes attempts and the tasks' next states in one transaction. A task is only moved when it is
   * still RUNNING under `node`'s lease (a cancelled task keeps CANCELLED, but its attempt is recorded).
   * Returns the tasks as written (moved or not).
   */
  finish(results: AttemptResult[]): Promise<TaskRow[]>;
  /** Gives RUNNING tasks held by `node` back to the queue (graceful shutdown): QUEUED, attempts - 1, lease cleared. */
  release(node: string, taskIds: string[]): Promise<void>;
  /** QUEUED/RETRYING/RUNNING → CANCELLED. Returns the row after, or null when not found. */
  cancel(tenantId: string, id: string): Promise<TaskRow | null>;
  /** FAILED/CANCELLED → QUEUED with a fresh attempt budget. Returns the row after, or null when not found. */
  retry(tenantId: string, id: string): Promise<TaskRow | null>;
  get(tenantId: string, id: string): Promise<TaskRow | null>;
  getMany(ids: string[]): Promise<TaskRow[]>;
  list(tenantId: string, filter: TaskFilter, first: number, after?: string): Promise<Page<TaskRow> & { endCursor: string | null }>;
  attempts(taskId: string): Promise<TaskAttemptRow[]>;
  countByStatus(tenantId: string | null): Promise<Record<TaskStatus, number>>;
  /** The tenant's unfinished tasks only (quotas on the submit path): waiting = QUEUED + RETRYING. */
  countActive(tenantId: string): Promise<{ waiting: number; running: number }>;
  /** Earliest runAt among QUEUED/RETRYING tasks (to arm a timer for delayed tasks), or null. */
  nextRunAt(): Promise<Date | null>;
}

/** Running-task caps as a claim sees them. */
export interface RunningCaps {
  /** Whether any tenant's RUNNING tasks are capped; when not, claims take the plain statement. */
  inForce: boolean;
  /** The tenant's cap: its override, else the default; 0 = none. */
  of(tenantId: string): number;
}

export interface TenantRepository {
  /** Creates a tenant (with quota overrides, absent = none); fails with CONFLICT when the name is taken. */
  create(name: string, quotas?: Partial<QuotaOverrides>): Promise<TenantRow>;
  /** Sets the given overrides (null clears one; absent ones stay). Returns the row after, or null when not found. */
  setQuotas(id: string, quotas: Partial<QuotaOverrides>): Promise<TenantRow | null>;
  get(id: string): Promise<TenantRow | null>;
  getByName(name: string): Promise<TenantRow | null>;
  list(): Promise<TenantRow[]>;
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

export interface BlobStore {
  /** Stores bytes under their sha256 (hex) and returns it; storing the same bytes twice is a no-op. */
  put(bytes: Uint8Array): Promise<string>;
  /** Streams into the store, failing with a SpindleError (LIMIT_EXCEEDED) past maxBytes. */
  putStream(stream: AsyncIterable<Uint8Array>, maxBytes: number): Promise<{ digest: string; size: number }>;
  get(digest: string): Promise<Uint8Array | null>;
  has(digest: string): Promise<boolean>;
  delete(digest: string): Promise<void>;
}

export interface Store {
  agents: AgentRepository;
  tasks: TaskRepository;
  tenants: TenantRepository;
  apiKeys: ApiKeyRepository;
  modules: ModuleRepository;
  blobs: BlobStore;
  /** Which database backs the store ('pglite' | 'postgres'), for logs and /healthz. */
  kind: 'pglite' | 'postgres';
  /** Cross-node wake-up: NOTIFY on PostgreSQL, in-process on PGlite. */
  notifyQueued(): Promise<void>;
  onQueued(listener: () => void): () => void;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Encode/decode the input files bundle stored as one blob. */
export type FilesBundle = FileEntry[];
