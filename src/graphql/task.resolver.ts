import 'reflect-metadata';
import { Arg, Ctx, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { badInput, DEFAULT_MOUNTS, SETTLED_STATUSES, type BulkAction, type Mount, type OutcomeKind } from '../domain/index.js';
import { MAX_BULK_IDS, type BulkResult } from '../services/index.js';
import { DEFAULT_TASK_ORDER, type AgentRow, type AgentVersionRow, type TaskAttemptRow, type TaskCount, type TaskOrder, type TaskOrderField, type TaskRow } from '../services/types.js';
import { Agent, AgentVersion } from './agent.type.js';
import { textPreview, toBase64, utf8Lossy, utf8OrNull } from './codec.js';
import { checkId } from '../services/ids.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { Context } from './context.js';
import { SubmitTaskInput, TaskFilterInput, TaskOrderInput } from './task.input.js';
import { BulkResultType, File, FileInfo, FilePreview, MountType, OutcomeKindEnum, Task, TaskAttempt, TaskConnection, Trap, type TaskOrderFieldEnum } from './task.type.js';

/** inputFilePreviews: bytes per file by default, and at most (an answer never exceeds the files, MAX_FILES_BYTES in all). */
const PREVIEW_DEFAULT = 4096;
const PREVIEW_MAX = 65_536;

const ORDER_FIELDS: Record<TaskOrderFieldEnum, TaskOrderField> = { CREATED_AT: 'createdAt', FINISHED_AT: 'finishedAt', DURATION: 'duration', PRIORITY: 'priority' };

const BULK_SELECTION = `Exactly one of ids (at most ${MAX_BULK_IDS}) and filter (as \`tasks\` takes it; at most BULK_MAX tasks per call, read when the call starts).`;

@Resolver(() => Task)
export class TaskResolver {
  @Query(() => Task, { nullable: true })
  async task(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<TaskRow | null> {
    // Through the loader: a request's task lookups go in one statement (TaskService.getMany).
    return ctx.loaders.task.load(checkId('id', id));
  }

  @Query(() => TaskConnection, { description: 'Tasks in orderBy (default: newest first) as a Relay connection.' })
  async tasks(
    @Ctx() ctx: Context,
    @Arg('filter', () => TaskFilterInput, { nullable: true }) filter?: TaskFilterInput | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first: number | null = 50,
    @Arg('after', () => String, { nullable: true, description: 'An endCursor (or edge cursor) of a page read with the same orderBy.' }) after?: string | null,
    @Arg('orderBy', () => TaskOrderInput, { nullable: true, description: 'Default: createdAt, newest first.' }) orderBy?: TaskOrderInput | null,
  ): Promise<TaskConnection> {
    const order: TaskOrder = orderBy ? { field: ORDER_FIELDS[orderBy.field], direction: orderBy.direction === 'ASC' ? 'asc' : 'desc' } : DEFAULT_TASK_ORDER;
    const cursor = after != null ? decodeCursor('after', after, order) : undefined;
    const page = await ctx.services.tasks.list(ctx.caller, filter, first ?? 50, cursor, order);
    const last = page.rows.at(-1);
    return {
      // Each edge's cursor is the end cursor of a page ending at it.
      edges: page.rows.map((row) => ({ cursor: encodeCursor(order, row), node: row })),
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor(order, last) : null },
      count: once(page.count),
    };
  }

  @Mutation(() => Task, { description: 'Submits one task. With an idempotencyKey that exists already, returns that task.' })
  submitTask(@Ctx() ctx: Context, @Arg('input', () => SubmitTaskInput) input: SubmitTaskInput): Promise<TaskRow> {
    return ctx.services.tasks.submit(ctx.caller, input);
  }

  @Mutation(() => [Task], { description: 'Submits a batch of tasks in one write, in order; all or none are accepted.' })
  submitTasks(@Ctx() ctx: Context, @Arg('inputs', () => [SubmitTaskInput]) inputs: SubmitTaskInput[]): Promise<TaskRow[]> {
    return ctx.services.tasks.submitBatch(ctx.caller, inputs);
  }

  @Mutation(() => Task, { description: 'Cancels a queued, retrying or running task (a running one is pre-empted).' })
  cancelTask(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<TaskRow> {
    return ctx.services.tasks.cancel(ctx.caller, id);
  }

  @Mutation(() => Task, {
    description: 'Queues a FAILED or CANCELLED task again with a fresh attempt budget. Its taskUpdated subscriptions completed at its end: subscribe again to follow the new run.',
  })
  retryTask(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<TaskRow> {
    return ctx.services.tasks.retry(ctx.caller, id);
  }

  @Mutation(() => BulkResultType, { description: `Cancels the queued, retrying and running tasks among the selection (running ones are pre-empted). ${BULK_SELECTION}` })
  cancelTasks(@Ctx() ctx: Context, @Arg('ids', () => [ID], { nullable: true }) ids?: string[] | null, @Arg('filter', () => TaskFilterInput, { nullable: true }) filter?: TaskFilterInput | null): Promise<BulkResult> {
    return bulk(ctx, 'cancel', ids, filter);
  }

  @Mutation(() => BulkResultType, { description: `Queues the FAILED and CANCELLED tasks among the selection again, each with a fresh attempt budget (subscribe to taskUpdated again to follow one). ${BULK_SELECTION}` })
  retryTasks(@Ctx() ctx: Context, @Arg('ids', () => [ID], { nullable: true }) ids?: string[] | null, @Arg('filter', () => TaskFilterInput, { nullable: true }) filter?: TaskFilterInput | null): Promise<BulkResult> {
    return bulk(ctx, 'retry', ids, filter);
  }

  @Mutation(() => BulkResultType, {
    description: `Deletes the ended tasks (SUCCEEDED, FAILED, CANCELLED) among the selection with their attempts; a taskUpdated or taskOutput subscription still open on one of them completes. ${BULK_SELECTION}`,
  })
  deleteTasks(@Ctx() ctx: Context, @Arg('ids', () => [ID], { nullable: true }) ids?: string[] | null, @Arg('filter', () => TaskFilterInput, { nullable: true }) filter?: TaskFilterInput | null): Promise<BulkResult> {
    return bulk(ctx, 'delete', ids, filter);
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
    return (await ctx.loaders.files.load(t.filesDigest)).map((f) => ({
      path: f.path,
      size: f.bytes.length,
      kind: f.kind ?? 'file',
      symlinkTarget: f.kind === 'symlink' ? utf8Lossy(f.bytes) : null,
    }));
  }

  @FieldResolver(() => [FilePreview], { description: "Each input file's start as text, with its size and whether it was cut or is binary (for display)." })
  async inputFilePreviews(
    @Root() t: TaskRow,
    @Ctx() ctx: Context,
    @Arg('maxBytes', () => Int, { defaultValue: PREVIEW_DEFAULT, description: `Bytes of each file to show, 1-${PREVIEW_MAX} (default ${PREVIEW_DEFAULT}).` }) maxBytes: number,
  ): Promise<FilePreview[]> {
    if (!Number.isInteger(maxBytes) || maxBytes < 1 || maxBytes > PREVIEW_MAX) throw badInput('maxBytes', `must be between 1 and ${PREVIEW_MAX}; got ${maxBytes}`, { min: 1, max: PREVIEW_MAX });
    if (!t.filesDigest) return [];
    return (await ctx.loaders.files.load(t.filesDigest)).map((f) => {
      const kind = f.kind ?? 'file';
      const preview = kind === 'file' ? textPreview(f.bytes, maxBytes) : { text: null, truncated: false };
      return { path: f.path, size: f.bytes.length, kind, ...preview, binary: kind === 'file' && preview.text === null };
    });
  }

  @FieldResolver(() => String, { nullable: true, description: "argv[0] as given at submit; null: the agent's name." })
  argv0(@Root() t: TaskRow): string | null {
    return t.wasi?.argv0 ?? null;
  }

  @FieldResolver(() => [MountType], { description: 'The preopened directories the task runs with (as given, or "/" alone, writable).' })
  mounts(@Root() t: TaskRow): readonly Mount[] {
    return t.wasi?.mounts ?? DEFAULT_MOUNTS;
  }

  @FieldResolver(() => OutcomeKindEnum, {
    nullable: true,
    description:
      'How the task ended: for SUCCEEDED and FAILED its final attempt\'s outcome, for CANCELLED always `cancelled` (also with no attempt); ' +
      'for RETRYING the failed attempt\'s. Null while QUEUED or RUNNING, even after a retry of an ended task.',
  })
  outcome(@Root() t: TaskRow): OutcomeKind | null {
    return SETTLED_STATUSES.has(t.status) ? t.lastOutcome : null;
  }

  // The result fields below are the final attempt's (lastAttempt), as attemptList shows it; null before one ended.

  @FieldResolver(() => String, { nullable: true, description: 'stdout of the final attempt (UTF-8, lossy).' })
  async stdout(@Root() t: TaskRow, @Ctx() ctx: Context): Promise<string | null> {
    const last = await lastAttempt(t, ctx);
    return last ? utf8Lossy(last.stdout) : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'stderr of the final attempt (UTF-8, lossy).' })
  async stderr(@Root() t: TaskRow, @Ctx() ctx: Context): Promise<string | null> {
    const last = await lastAttempt(t, ctx);
    return last ? utf8Lossy(last.stderr) : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'The exact bytes of the final attempt\'s stdout, as standard base64.' })
  async stdoutBase64(@Root() t: TaskRow, @Ctx() ctx: Context): Promise<string | null> {
    const last = await lastAttempt(t, ctx);
    return last ? toBase64(last.stdout) : null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'The exact bytes of the final attempt\'s stderr, as standard base64.' })
  async stderrBase64(@Root() t: TaskRow, @Ctx() ctx: Context): Promise<string | null> {
    const last = await lastAttempt(t, ctx);
    return last ? toBase64(last.stderr) : null;
  }

  @FieldResolver(() => Trap, { nullable: true, description: 'The trap that ended the final attempt, if one did.' })
  async trap(@Root() t: TaskRow, @Ctx() ctx: Context): Promise<Trap | null> {
    const last = await lastAttempt(t, ctx);
    return last ? trapOf(last) : null;
  }

  @FieldResolver(() => String, { nullable: true, description: "The final attempt's error message (a limit hit, an invalid module, a host error), if it has one." })
  async error(@Root() t: TaskRow, @Ctx() ctx: Context): Promise<string | null> {
    return (await lastAttempt(t, ctx))?.error ?? null;
  }

  @FieldResolver(() => [File], { description: 'Files written by the final attempt.' })
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

  @FieldResolver(() => [TaskAttempt], { description: 'Every attempt, first first; a stale one just before the attempt of the same number.' })
  async attemptList(@Root() t: TaskRow, @Ctx() ctx: Context): Promise<TaskAttemptRow[]> {
    return t.attempts === 0 ? [] : ctx.loaders.attempts.load(t.id);
  }

  @FieldResolver(() => Int, {
    description: 'Attempts counted against retryPolicy.maxAttempts: those since the last retryTask (each gives a fresh budget), all of them when it was never retried.',
  })
  attemptsSinceRetry(@Root() t: TaskRow): number {
    return t.attempts - t.attemptBase;
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

@Resolver(() => TaskConnection)
export class TaskConnectionResolver {
  @FieldResolver(() => Int, {
    description: 'Tasks matching the filter (all pages): exact up to COUNT_EXACT_MAX (10,000 by default); past it the database\'s estimate, never below COUNT_EXACT_MAX + 1 (see totalCountExact). Computed only when selected.',
  })
  async totalCount(@Root() connection: TaskConnection): Promise<number> {
    return (await connection.count()).count;
  }

  @FieldResolver(() => Boolean, { description: 'False: totalCount is an estimate, and more than COUNT_EXACT_MAX tasks match.' })
  async totalCountExact(@Root() connection: TaskConnection): Promise<boolean> {
    return (await connection.count()).exact;
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
    return trapOf(a);
  }
}

/** `count` on first call only: totalCount and totalCountExact share one count. */
function once(count: () => Promise<TaskCount>): () => Promise<TaskCount> {
  let result: Promise<TaskCount> | undefined;
  return () => (result ??= count());
}

/**
 * The attempt that is the task's result: its last one that is not stale (a stale attempt is a late
 * result of a node that had lost the task; it may come last, e.g. numbered past the task's attempts).
 */
export async function lastAttempt(t: TaskRow, ctx: Context): Promise<TaskAttemptRow | null> {
  // Nothing recorded of its own yet: a finish that is not stale sets attempts to at least its number.
  if (t.attempts === 0) return null;
  return (await ctx.loaders.attempts.load(t.id)).findLast((a) => !a.stale) ?? null;
}

const trapOf = (a: TaskAttemptRow): Trap | null => (a.trapCode ? { code: a.trapCode, message: a.trapMessage ?? '' } : null);

function bulk(ctx: Context, action: BulkAction, ids: string[] | null | undefined, filter: TaskFilterInput | null | undefined): Promise<BulkResult> {
  return ctx.services.tasks.act(ctx.caller, action, { ids, filter });
}

function must<T>(value: T | null, what: string, id: string): T {
  // A task's agent and version are kept on delete (soft delete); missing means corrupt data.
  if (value === null) throw new Error(`${what} ${id} is missing`);
  return value;
}
