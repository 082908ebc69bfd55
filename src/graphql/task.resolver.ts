import 'reflect-metadata';
import { Arg, Ctx, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { badInput, SpindleError, type OutcomeKind } from '../domain/index.js';
import type { AgentRow, AgentVersionRow, TaskAttemptRow, TaskFilter, TaskRow } from '../store/types.js';
import { Agent, AgentVersion } from './agent.type.js';
import { toBase64, utf8Lossy, utf8OrNull } from './codec.js';
import { requireRole } from './auth.js';
import type { Context } from './context.js';
import { checkId, findAgent, notFoundAt } from './ids.js';
import { RetryPolicyType } from './limits.type.js';
import { SubmitTaskInput, TaskFilterInput } from './task.input.js';
import { File, FileInfo, OutcomeKindEnum, Task, TaskAttempt, TaskConnection, Trap } from './task.type.js';
import { prepareTasks } from './task.validate.js';

export const MAX_PAGE = 500;

@Resolver(() => Task)
export class TaskResolver {
  @Query(() => Task, { nullable: true })
  async task(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<TaskRow | null> {
    return ctx.loaders.task.load(checkId('id', id));
  }

  @Query(() => TaskConnection, { description: 'Tasks newest first (Relay connection).' })
  async tasks(
    @Ctx() ctx: Context,
    @Arg('filter', () => TaskFilterInput, { nullable: true }) filter?: TaskFilterInput | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first: number | null = 50,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<TaskConnection> {
    first ??= 50;
    if (first < 1 || first > MAX_PAGE) throw badInput('first', `must be between 1 and ${MAX_PAGE}`);
    const storeFilter: TaskFilter = {};
    if (filter?.status?.length) storeFilter.status = filter.status;
    if (filter?.createdAfter) storeFilter.createdAfter = filter.createdAfter;
    if (filter?.createdBefore) storeFilter.createdBefore = filter.createdBefore;
    if (filter?.agent != null) {
      const agent = await findAgent(ctx, filter.agent);
      if (!agent) throw notFoundAt('filter.agent', 'agent', filter.agent);
      storeFilter.agentId = agent.id;
    }
    const page = await ctx.deps.store.tasks.list(ctx.tenantId, storeFilter, first, after ?? undefined);
    return {
      // Cursors are the store's (createdAt, id), opaque here; each edge's is the end cursor of a page ending at it.
      edges: page.rows.map((row) => ({ cursor: cursorOf(row), node: row })),
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
      totalCount: page.totalCount,
    };
  }

  @Mutation(() => Task, { description: 'Submits one task. With an idempotencyKey that exists already, returns that task.' })
  async submitTask(@Ctx() ctx: Context, @Arg('input', () => SubmitTaskInput) input: SubmitTaskInput): Promise<TaskRow> {
    requireRole(ctx.principal, 'submitter', 'submitTask');
    const [task] = await submit(ctx, [input], () => 'input');
    return task!;
  }

  @Mutation(() => [Task], { description: 'Submits a batch of tasks in one write, in order; all or none are accepted.' })
  async submitTasks(@Ctx() ctx: Context, @Arg('inputs', () => [SubmitTaskInput]) inputs: SubmitTaskInput[]): Promise<TaskRow[]> {
    requireRole(ctx.principal, 'submitter', 'submitTasks');
    const max = ctx.deps.config.maxBatch;
    if (inputs.length === 0) throw badInput('inputs', 'must contain at least one task');
    if (inputs.length > max) throw badInput('inputs', `must contain at most ${max} tasks (MAX_BATCH); got ${inputs.length}`, { max });
    return submit(ctx, inputs, (i) => `inputs[${i}]`);
  }

  @Mutation(() => Task, { description: 'Cancels a queued, retrying or running task (a running one is pre-empted).' })
  async cancelTask(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<TaskRow> {
    requireRole(ctx.principal, 'submitter', 'cancelTask');
    const row = await ctx.deps.executor.cancel(ctx.tenantId, checkId('id', id));
    if (!row) throw notFoundAt('id', 'task', id);
    if (row.status !== 'CANCELLED') throw new SpindleError('CONFLICT', `task ${id} is ${row.status} and can no longer be cancelled`, { field: 'id', status: row.status });
    return row;
  }

  @Mutation(() => Task, { description: 'Queues a FAILED or CANCELLED task again with a fresh attempt budget.' })
  async retryTask(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<TaskRow> {
    requireRole(ctx.principal, 'submitter', 'retryTask');
    const row = await ctx.deps.executor.retry(ctx.tenantId, checkId('id', id));
    if (!row) throw notFoundAt('id', 'task', id);
    if (row.status !== 'QUEUED') throw new SpindleError('CONFLICT', `task ${id} is ${row.status}; only FAILED or CANCELLED tasks can be retried`, { field: 'id', status: row.status });
    return row;
  }

  // ---------- fields ----------

  @FieldResolver(() => Agent)
  async agent(@Root() t: TaskRow, @Ctx() ctx: Context): Promise<AgentRow> {
    return must(await ctx.loaders.agent.load(t.agentId), 'agent', t.agentId);
  }

  @FieldResolver(() => AgentVersion)
  async agentVersion(@Root() t: TaskRow, @Ctx() ctx: Context): Promise<AgentVersionRow> {
    return must(await ctx.loaders.version.load(t.agentVersionId), 'agent version', t.agentVersionId);
  }

  @FieldResolver(() => String, { description: 'stdin as UTF-8 (lossy).' })
  stdin(@Root() t: TaskRow): string {
    return utf8Lossy(t.stdin);
  }

  @FieldResolver(() => String)
  stdinBase64(@Root() t: TaskRow): string {
    return toBase64(t.stdin);
  }

  @FieldResolver(() => [FileInfo])
  async inputFiles(@Root() t: TaskRow, @Ctx() ctx: Context): Promise<FileInfo[]> {
    if (!t.filesDigest) return [];
    return (await ctx.loaders.files.load(t.filesDigest)).map((f) => ({ path: f.path, size: f.bytes.length }));
  }

  @FieldResolver(() => RetryPolicyType)
  retryPolicy(@Root() t: TaskRow): RetryPolicyType {
    return t.retry;
  }

  @FieldResolver(() => OutcomeKindEnum, { nullable: true, description: 'Outcome of the last finished attempt.' })
  outcome(@Root() t: TaskRow): OutcomeKind | null {
    return t.lastOutcome;
  }

  @FieldResolver(() => String, { nullable: true, description: 'stdout of the last attempt (UTF-8, lossy).' })
  async stdout(@Root() t: TaskRow, @Ctx() ctx: Context): Promise<string | null> {
    const last = await lastAttempt(t, ctx);
    return last ? utf8Lossy(last.stdout) : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'stderr of the last attempt (UTF-8, lossy).' })
  async stderr(@Root() t: TaskRow, @Ctx() ctx: Context): Promise<string | null> {
    const last = await lastAttempt(t, ctx);
    return last ? utf8Lossy(last.stderr) : null;
  }

  @FieldResolver(() => [File], { description: 'Files written by the last attempt.' })
  async outputFiles(@Root() t: TaskRow, @Ctx() ctx: Context): Promise<File[]> {
    const last = await lastAttempt(t, ctx);
    if (!last?.filesDigest) return [];
    return (await ctx.loaders.files.load(last.filesDigest)).map((f) => ({
      path: f.path,
      size: f.bytes.length,
      base64: toBase64(f.bytes),
      text: utf8OrNull(f.bytes),
    }));
  }

  @FieldResolver(() => [TaskAttempt], { description: 'Every attempt, first first.' })
  async attemptList(@Root() t: TaskRow, @Ctx() ctx: Context): Promise<TaskAttemptRow[]> {
    return t.attempts === 0 ? [] : ctx.loaders.attempts.load(t.id);
  }

  @FieldResolver(() => Float, { nullable: true, description: 'First start − creation, in ms.' })
  queueMs(@Root() t: TaskRow): number | null {
    return t.startedAt ? t.startedAt.getTime() - t.createdAt.getTime() : null;
  }

  @FieldResolver(() => Float, { nullable: true, description: 'Finish − creation, in ms.' })
  durationMs(@Root() t: TaskRow): number | null {
    return t.finishedAt ? t.finishedAt.getTime() - t.createdAt.getTime() : null;
  }
}

@Resolver(() => TaskAttempt)
export class TaskAttemptResolver {
  @FieldResolver(() => String)
  stdout(@Root() a: TaskAttemptRow): string {
    return utf8Lossy(a.stdout);
  }

  @FieldResolver(() => String)
  stderr(@Root() a: TaskAttemptRow): string {
    return utf8Lossy(a.stderr);
  }

  @FieldResolver(() => String)
  stdoutBase64(@Root() a: TaskAttemptRow): string {
    return toBase64(a.stdout);
  }

  @FieldResolver(() => String)
  stderrBase64(@Root() a: TaskAttemptRow): string {
    return toBase64(a.stderr);
  }

  @FieldResolver(() => Trap, { nullable: true })
  trap(@Root() a: TaskAttemptRow): Trap | null {
    return a.trapCode ? { code: a.trapCode, message: a.trapMessage ?? '' } : null;
  }
}

async function submit(ctx: Context, inputs: SubmitTaskInput[], fieldOf: (i: number) => string): Promise<TaskRow[]> {
  // Before validation writes input-file blobs: a refused batch leaves nothing behind.
  await ctx.deps.quotas?.checkSubmit(ctx.tenantId, inputs.length);
  const tasks = await prepareTasks(ctx, inputs, fieldOf);
  const results = await ctx.deps.executor.submit(tasks);
  ctx.deps.onSubmitted?.(results.filter((r) => r.created).length);
  return results.map((r) => r.task);
}

async function lastAttempt(t: TaskRow, ctx: Context): Promise<TaskAttemptRow | null> {
  if (t.attempts === 0) return null;
  return (await ctx.loaders.attempts.load(t.id)).at(-1) ?? null;
}

/** Same encoding as the store's page cursor: opaque to clients, (createdAt ms, id) inside. */
const cursorOf = (t: TaskRow) => Buffer.from(`${t.createdAt.getTime()}:${t.id}`).toString('base64url');

function must<T>(value: T | null, what: string, id: string): T {
  // A task's agent and version are kept on delete (soft delete); missing means corrupt data.
  if (value === null) throw new Error(`${what} ${id} is missing`);
  return value;
}
