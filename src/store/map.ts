/**
 * The one place where database records become the plain rows of ./types.ts (and back):
 * bigint columns that fit a number become numbers, Buffers become Uint8Array views (no copy),
 * JSON columns get their types. Raw SQL selects the same camelCase shape as the Prisma models
 * (see TASK_COLUMNS), so both paths share these mappers.
 */
import type { Limits, OutcomeKind, QuotaOverrides, RetryPolicy, TaskStatus, TrapCode } from '../domain/index.js';
import type {
  Agent,
  AgentVersion,
  ApiKey,
  Task,
  TaskAttempt,
  Tenant,
} from '../generated/prisma/client.js';
import type {
  AgentRow,
  AgentVersionRow,
  ApiKeyRow,
  TaskAttemptRow,
  TaskRow,
  TenantRow,
} from './types.js';

/** A view on the same memory: Buffer is a Uint8Array subclass, callers get the plain type. */
export function bytes(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** int8 as the drivers return it: bigint (Prisma, PGlite) or a decimal string (pg). */
type Int8 = bigint | string | number;

/** A task record from Prisma or from raw SQL selecting TASK_COLUMNS. */
export type TaskRecord = Omit<Task, 'memoryBytes' | 'fuel'> & { memoryBytes: Int8; fuel: Int8 | null };

/** Task columns in the Prisma model's shape, for RETURNING / SELECT in raw SQL. */
export function taskColumns(alias: string): string {
  return TASK_FIELDS.map(([col, field]) => `${alias}.${col} AS "${field}"`).join(', ');
}

const TASK_FIELDS: [column: string, field: keyof Task][] = [
  ['id', 'id'],
  ['tenant_id', 'tenantId'],
  ['agent_id', 'agentId'],
  ['agent_version_id', 'agentVersionId'],
  ['module_digest', 'moduleDigest'],
  ['status', 'status'],
  ['priority', 'priority'],
  ['stdin', 'stdin'],
  ['args', 'args'],
  ['env', 'env'],
  ['files_digest', 'filesDigest'],
  ['timeout_ms', 'timeoutMs'],
  ['memory_bytes', 'memoryBytes'],
  ['fuel', 'fuel'],
  ['max_output_bytes', 'maxOutputBytes'],
  ['retry', 'retry'],
  ['deterministic', 'deterministic'],
  ['idempotency_key', 'idempotencyKey'],
  ['attempts', 'attempts'],
  ['attempt_base', 'attemptBase'],
  ['run_at', 'runAt'],
  ['lease_owner', 'leaseOwner'],
  ['lease_expires_at', 'leaseExpiresAt'],
  ['last_outcome', 'lastOutcome'],
  ['exit_code', 'exitCode'],
  ['created_at', 'createdAt'],
  ['updated_at', 'updatedAt'],
  ['started_at', 'startedAt'],
  ['finished_at', 'finishedAt'],
];

export function toTaskRow(t: TaskRecord): TaskRow {
  const limits: Limits = { timeoutMs: t.timeoutMs, memoryBytes: Number(t.memoryBytes), maxOutputBytes: t.maxOutputBytes };
  if (t.fuel !== null) limits.fuel = BigInt(t.fuel);
  return {
    id: t.id,
    tenantId: t.tenantId,
    agentId: t.agentId,
    agentVersionId: t.agentVersionId,
    moduleDigest: t.moduleDigest,
    status: t.status as TaskStatus,
    priority: t.priority,
    stdin: bytes(t.stdin),
    args: t.args as string[],
    env: t.env as Record<string, string>,
    filesDigest: t.filesDigest,
    limits,
    retry: t.retry as unknown as RetryPolicy,
    deterministic: t.deterministic as TaskRow['deterministic'],
    idempotencyKey: t.idempotencyKey,
    attempts: t.attempts,
    attemptBase: t.attemptBase,
    runAt: t.runAt,
    leaseOwner: t.leaseOwner,
    leaseExpiresAt: t.leaseExpiresAt,
    lastOutcome: t.lastOutcome as OutcomeKind | null,
    exitCode: t.exitCode,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    startedAt: t.startedAt,
    finishedAt: t.finishedAt,
  };
}

export function toAttemptRow(a: TaskAttempt): TaskAttemptRow {
  return {
    id: a.id,
    taskId: a.taskId,
    tenantId: a.tenantId,
    n: a.n,
    node: a.node,
    outcome: a.outcome as OutcomeKind,
    exitCode: a.exitCode,
    stdout: bytes(a.stdout),
    stderr: bytes(a.stderr),
    stdoutTruncated: a.stdoutTruncated,
    stderrTruncated: a.stderrTruncated,
    trapCode: a.trapCode as TrapCode | null,
    trapMessage: a.trapMessage,
    error: a.error,
    compileMs: a.compileMs,
    runMs: a.runMs,
    fuelUsed: a.fuelUsed,
    memoryPeakBytes: Number(a.memoryPeakBytes),
    files: a.files as TaskAttemptRow['files'],
    filesDigest: a.filesDigest,
    startedAt: a.startedAt,
    finishedAt: a.finishedAt,
  };
}

export function toAgentRow(a: Agent): AgentRow {
  return {
    id: a.id,
    tenantId: a.tenantId,
    name: a.name,
    description: a.description,
    latestVersion: a.latestVersion,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
    deletedAt: a.deletedAt,
  };
}

export function toAgentVersionRow(v: AgentVersion): AgentVersionRow {
  const stored = v.defaultLimits as Record<string, unknown>;
  const defaultLimits = { ...stored } as Partial<Limits>;
  if (typeof stored.fuel === 'string') defaultLimits.fuel = BigInt(stored.fuel);
  return {
    id: v.id,
    agentId: v.agentId,
    tenantId: v.tenantId,
    version: v.version,
    moduleDigest: v.moduleDigest,
    moduleSize: v.moduleSize,
    imports: v.imports as AgentVersionRow['imports'],
    exports: v.exports as AgentVersionRow['exports'],
    memoryInitialPages: v.memoryInitialPages,
    memoryMaximumPages: v.memoryMaximumPages,
    defaultLimits,
    createdAt: v.createdAt,
  };
}

/** Partial limits as JSON: fuel (bigint) becomes a decimal string. */
export function limitsToJson(l: Partial<Limits>): Record<string, unknown> {
  return l.fuel === undefined ? { ...l } : { ...l, fuel: l.fuel.toString() };
}

export function toTenantRow(t: Tenant): TenantRow {
  const quotas: QuotaOverrides = {
    queuedTasks: t.quotaQueuedTasks,
    activeTasks: t.quotaActiveTasks,
    runningTasks: t.quotaRunningTasks,
    storedBytes: t.quotaStoredBytes === null ? null : Number(t.quotaStoredBytes),
    submitRate: t.quotaSubmitRate,
    submitBurst: t.quotaSubmitBurst,
  };
  return { id: t.id, name: t.name, createdAt: t.createdAt, quotas };
}

/** Quota overrides as Prisma tenant columns; absent keys are left out (unchanged). */
export function quotaColumns(q: Partial<QuotaOverrides>) {
  const big = (n: number | null | undefined) => (n === undefined ? undefined : n === null ? null : BigInt(n));
  return {
    quotaQueuedTasks: q.queuedTasks,
    quotaActiveTasks: q.activeTasks,
    quotaRunningTasks: q.runningTasks,
    quotaStoredBytes: big(q.storedBytes),
    quotaSubmitRate: q.submitRate,
    quotaSubmitBurst: q.submitBurst,
  };
}

export function toApiKeyRow(k: ApiKey): ApiKeyRow {
  return {
    id: k.id,
    tenantId: k.tenantId,
    name: k.name,
    prefix: k.prefix,
    secretHash: k.secretHash,
    role: k.role,
    createdAt: k.createdAt,
    lastUsedAt: k.lastUsedAt,
    revokedAt: k.revokedAt,
  };
}
