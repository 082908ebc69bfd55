/**
 * The one place where database records become the plain rows of ./types.ts (and back):
 * bigint columns that fit a number become numbers, Buffers become Uint8Array views (no copy),
 * the JSON settings (a task's retry policy, an agent version's default limits) are parsed with a
 * schema, not cast. Raw SQL selects the same camelCase shape as the Prisma models (see
 * TASK_COLUMNS), so both paths share these mappers. Columns keep their names (`retry` holds the
 * `retryPolicy`).
 */
import { z } from 'zod';
import { RETRYABLE_KINDS, type Limits, type OutcomeKind, type QuotaOverrides, type RetentionOverrides, type RetryPolicy, type TaskStatus, type TrapCode } from '../domain/index.js';
import type {
  Agent,
  AgentVersion,
  ApiKey,
  Task,
  TaskAttempt,
  Tenant,
} from '../generated/prisma/client.js';
import {
  FINISHED_FIELDS,
  type AgentRow,
  type AgentVersionRow,
  type ApiKeyRow,
  type FinishedTask,
  type NewTask,
  type TaskAttemptRow,
  type TaskRow,
  type TenantRow,
} from './types.js';

/** A view on the same memory: Buffer is a Uint8Array subclass, callers get the plain type. */
export function bytes(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** int8 as the drivers return it: bigint (Prisma, PGlite) or a decimal string (pg). */
type Int8 = bigint | string | number;

/** A task record from Prisma or from raw SQL selecting TASK_COLUMNS. */
export type TaskRecord = Omit<Task, 'memoryBytes' | 'fuel' | 'searchText'> & { memoryBytes: Int8; fuel: Int8 | null };

/** Some task columns, aliased as taskColumns does. */
function someColumns(alias: string, fields: readonly (keyof Task)[]): string {
  return fields.map((field) => `${alias}.${TASK_FIELDS.find(([, f]) => f === field)![0]} AS "${field}"`).join(', ');
}

/** The columns of a FinishedTask (what a result write reads back). */
export const finishedColumns = (alias: string): string => someColumns(alias, FINISHED_FIELDS);

/**
 * What an insert reads back: the columns the database decides (defaults, now(), a claim's state).
 * The rest is what the insert wrote, taken from its input (toInsertedRow) instead of being sent
 * back and parsed again: stdin, args, env and the JSON settings are most of a row's bytes.
 */
const INSERTED_FIELDS = ['id', 'status', 'attempts', 'attemptBase', 'runAt', 'queuedAt', 'leaseOwner', 'leaseExpiresAt', 'lastOutcome', 'exitCode', 'createdAt', 'updatedAt', 'startedAt', 'finishedAt'] as const;
export const insertedColumns = (alias: string): string => someColumns(alias, INSERTED_FIELDS);
export type InsertedRecord = Pick<Task, (typeof INSERTED_FIELDS)[number]>;

/** The row an insert made: its input, and what the database decided (insertedColumns). */
export function toInsertedRow(t: NewTask, r: InsertedRecord): TaskRow {
  const limits: Limits = { timeoutMs: t.limits.timeoutMs, memoryBytes: t.limits.memoryBytes, maxOutputBytes: t.limits.maxOutputBytes };
  if (t.limits.fuel !== undefined && t.limits.fuel !== null) limits.fuel = t.limits.fuel;
  return {
    id: r.id,
    tenantId: t.tenantId,
    agentId: t.agentId,
    agentVersionId: t.agentVersionId,
    moduleDigest: t.moduleDigest,
    status: r.status as TaskStatus,
    priority: t.priority,
    stdin: bytes(t.stdin),
    args: t.args,
    env: t.env,
    filesDigest: t.filesDigest,
    limits,
    retryPolicy: t.retryPolicy,
    deterministic: t.deterministic,
    idempotencyKey: t.idempotencyKey,
    traceContext: t.traceContext ?? null,
    wasi: t.wasi ?? null,
    attempts: r.attempts,
    attemptBase: r.attemptBase,
    runAt: r.runAt,
    queuedAt: r.queuedAt,
    leaseOwner: r.leaseOwner,
    leaseExpiresAt: r.leaseExpiresAt,
    lastOutcome: r.lastOutcome as OutcomeKind | null,
    exitCode: r.exitCode,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}

/** A record of finishedColumns (plus what the finish adds) as a FinishedTask. */
export function toFinishedTask(t: FinishedRecord): FinishedTask {
  return {
    id: t.id,
    tenantId: t.tenantId,
    agentId: t.agentId,
    status: t.status as TaskStatus,
    attempts: t.attempts,
    leaseOwner: t.leaseOwner,
    lastOutcome: t.lastOutcome as OutcomeKind | null,
    exitCode: t.exitCode,
    queuedAt: t.queuedAt,
    updatedAt: t.updatedAt,
    finishedAt: t.finishedAt,
    stale: t.stale,
    alreadyWritten: t.alreadyWritten.map(Number),
  };
}

type FinishedRecord = Pick<Task, (typeof FINISHED_FIELDS)[number]> & { stale: boolean; alreadyWritten: (number | string)[] };

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
  ['trace_context', 'traceContext'],
  ['wasi', 'wasi'],
  ['attempts', 'attempts'],
  ['attempt_base', 'attemptBase'],
  ['run_at', 'runAt'],
  ['queued_at', 'queuedAt'],
  ['lease_owner', 'leaseOwner'],
  ['lease_expires_at', 'leaseExpiresAt'],
  ['last_outcome', 'lastOutcome'],
  ['exit_code', 'exitCode'],
  ['created_at', 'createdAt'],
  ['updated_at', 'updatedAt'],
  ['started_at', 'startedAt'],
  ['finished_at', 'finishedAt'],
];

const count = z.number().int().nonnegative();

/** The retry policy as the submit wrote it (services/limits.ts checked every value then). */
const storedRetryPolicy: z.ZodType<RetryPolicy> = z.object({
  maxAttempts: count.min(1),
  initialBackoffMs: count,
  maxBackoffMs: count,
  retryOn: z.array(z.enum(RETRYABLE_KINDS)),
});

/** An agent version's default limits as limitsToJson wrote them: each optional, fuel as a decimal string. */
const storedDefaultLimits: z.ZodType<Partial<Limits>> = z.object({
  timeoutMs: count.optional(),
  memoryBytes: count.optional(),
  maxOutputBytes: count.optional(),
  fuel: z
    .string()
    .regex(/^\d+$/)
    .transform((s) => BigInt(s))
    .optional(),
});

/**
 * A JSON column's value through its schema. A value that does not fit is a corrupt row (written
 * by hand, or by a build that stored another shape): the error names the row, the column and
 * what is wrong, instead of letting a wrong type travel on.
 */
function parseStored<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`${where} holds a malformed value: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  return parsed.data;
}

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
    retryPolicy: parseStored(storedRetryPolicy, t.retry, `task ${t.id}: column retry`),
    deterministic: t.deterministic as TaskRow['deterministic'],
    idempotencyKey: t.idempotencyKey,
    traceContext: t.traceContext as TaskRow['traceContext'],
    wasi: t.wasi as TaskRow['wasi'],
    attempts: t.attempts,
    attemptBase: t.attemptBase,
    runAt: t.runAt,
    queuedAt: t.queuedAt,
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

export function toAttemptRow(a: AttemptRecord): TaskAttemptRow {
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
    fuelUsed: a.fuelUsed === null ? null : BigInt(a.fuelUsed),
    memoryPeakBytes: Number(a.memoryPeakBytes),
    files: a.files as TaskAttemptRow['files'],
    filesDigest: a.filesDigest,
    startedAt: a.startedAt,
    finishedAt: a.finishedAt,
    stale: a.stale,
  };
}

/** Attempt columns in the Prisma model's shape, for raw SQL (see taskColumns). */
export function attemptColumns(alias: string): string {
  return ATTEMPT_FIELDS.map(([col, field]) => `${alias}.${col} AS "${field}"`).join(', ');
}

/** An attempt record from Prisma or from raw SQL selecting attemptColumns (int8 as the driver returns it). */
export type AttemptRecord = Omit<TaskAttempt, 'fuelUsed' | 'memoryPeakBytes'> & { fuelUsed: Int8 | null; memoryPeakBytes: Int8 };

const ATTEMPT_FIELDS: [column: string, field: keyof TaskAttempt][] = [
  ['id', 'id'],
  ['task_id', 'taskId'],
  ['tenant_id', 'tenantId'],
  ['n', 'n'],
  ['node', 'node'],
  ['outcome', 'outcome'],
  ['exit_code', 'exitCode'],
  ['stdout', 'stdout'],
  ['stderr', 'stderr'],
  ['stdout_truncated', 'stdoutTruncated'],
  ['stderr_truncated', 'stderrTruncated'],
  ['trap_code', 'trapCode'],
  ['trap_message', 'trapMessage'],
  ['error', 'error'],
  ['compile_ms', 'compileMs'],
  ['run_ms', 'runMs'],
  ['fuel_used', 'fuelUsed'],
  ['memory_peak_bytes', 'memoryPeakBytes'],
  ['files', 'files'],
  ['files_digest', 'filesDigest'],
  ['started_at', 'startedAt'],
  ['finished_at', 'finishedAt'],
  ['stale', 'stale'],
];

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
    paused: a.paused,
    concurrencyLimit: a.concurrencyLimit,
  };
}

export function toAgentVersionRow(v: AgentVersion): AgentVersionRow {
  const defaultLimits = parseStored(storedDefaultLimits, v.defaultLimits, `agent version ${v.id}: column default_limits`);
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
    taskBytes: t.quotaTaskBytes === null ? null : Number(t.quotaTaskBytes),
  };
  const ms = (n: bigint | null) => (n === null ? null : Number(n));
  const retention: RetentionOverrides = { succeededMs: ms(t.retainSucceededMs), failedMs: ms(t.retainFailedMs), cancelledMs: ms(t.retainCancelledMs) };
  return { id: t.id, name: t.name, createdAt: t.createdAt, quotas, retention };
}

/** Retention overrides as Prisma tenant columns; absent keys are left out (unchanged). */
export function retentionColumns(r: Partial<RetentionOverrides>) {
  return { retainSucceededMs: big(r.succeededMs), retainFailedMs: big(r.failedMs), retainCancelledMs: big(r.cancelledMs) };
}

/** An override for a bigint column: absent stays absent (unchanged), null clears. */
const big = (n: number | null | undefined) => (n === undefined ? undefined : n === null ? null : BigInt(n));

/** Quota overrides as Prisma tenant columns; absent keys are left out (unchanged). */
export function quotaColumns(q: Partial<QuotaOverrides>) {
  return {
    quotaQueuedTasks: q.queuedTasks,
    quotaActiveTasks: q.activeTasks,
    quotaRunningTasks: q.runningTasks,
    quotaStoredBytes: big(q.storedBytes),
    quotaSubmitRate: q.submitRate,
    quotaSubmitBurst: q.submitBurst,
    quotaTaskBytes: big(q.taskBytes),
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
