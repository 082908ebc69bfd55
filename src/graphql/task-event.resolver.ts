/**
 * Live subscriptions: taskUpdated(id), taskEvents(filter), taskOutput(id). Each subscribes to the
 * bus (TASK_EVENTS batches, TASK_OUTPUT per task id) in a custom `subscribe`, so the schema needs
 * no topic wiring and every filter runs on the server.
 */
import 'reflect-metadata';
import { Repeater, type PubSub } from '@graphql-yoga/subscription';
import { Arg, Ctx, FieldResolver, ID, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { badInput, TERMINAL_STATUSES } from '../domain/index.js';
import { taskEvent } from '../executor/executor.js';
import type { TaskEvent, TaskOutputEvent, Topics } from '../executor/types.js';
import type { TaskRow } from '../store/types.js';
import { toBase64, utf8Lossy } from './codec.js';
import type { Context } from './context.js';
import { checkId, findAgent, notFoundAt } from './ids.js';
import { eager, flatten } from './live.js';
import { TaskEventFilterInput } from './task.input.js';
import { OutputChunkType, TaskEventType } from './task-event.type.js';
import { Task } from './task.type.js';

const MAX_FILTER_IDS = 1000;
/** How long taskOutput stays open after the task ended, for chunks still in flight. */
const OUTPUT_TAIL_MS = 100;
type Data<A> = SubscribeResolverData<unknown, A, Context>;

const pubsubOf = (ctx: Context): PubSub<Topics> => ctx.deps.pubsub;

async function subscribeTaskUpdated({ args, context }: Data<{ id: string }>) {
  const id = checkId('id', args.id);
  const events = eager(pubsubOf(context).subscribe('TASK_EVENTS'));
  const row = await context.deps.store.tasks.get(context.tenantId, id);
  if (!row) {
    await events.return?.();
    throw notFoundAt('id', 'task', id);
  }
  // The current state first: a client that subscribes after submitting never misses the end.
  return flatten(events, (e) => e.taskId === id && e.tenantId === context.tenantId, { initial: [taskEvent(row)] });
}

async function subscribeTaskEvents({ args, context }: Data<{ filter?: TaskEventFilterInput | null }>) {
  const filter = args.filter ?? {};
  const statuses = filter.status?.length ? new Set(filter.status) : null;
  let ids: Set<string> | null = null;
  if (filter.taskIds) {
    if (filter.taskIds.length > MAX_FILTER_IDS) throw badInput('filter.taskIds', `must have at most ${MAX_FILTER_IDS} ids`);
    ids = new Set(filter.taskIds.map((id, i) => checkId(`filter.taskIds[${i}]`, id)));
  }
  let agentId: string | null = null;
  if (filter.agent != null) {
    const agent = await findAgent(context, filter.agent);
    if (!agent) throw notFoundAt('filter.agent', 'agent', filter.agent);
    agentId = agent.id;
  }
  const events = eager(pubsubOf(context).subscribe('TASK_EVENTS'));
  return flatten(
    events,
    (e) => e.tenantId === context.tenantId && (!statuses || statuses.has(e.status)) && (!agentId || e.agentId === agentId) && (!ids || ids.has(e.taskId)),
  );
}

/**
 * Live chunks of a task until it reaches a terminal state. For a task that has already ended, the
 * last attempt's stdout and stderr are replayed as (at most) two chunks, then the stream completes.
 */
async function subscribeTaskOutput({ args, context }: Data<{ id: string }>) {
  const id = checkId('id', args.id);
  const pubsub = pubsubOf(context);
  const chunks = eager(pubsub.subscribe('TASK_OUTPUT', id));
  const events = eager(pubsub.subscribe('TASK_EVENTS'));
  const close = () => Promise.all([chunks.return?.(), events.return?.()]);
  const row = await context.deps.store.tasks.get(context.tenantId, id);
  if (!row) {
    await close();
    throw notFoundAt('id', 'task', id);
  }
  if (TERMINAL_STATUSES.has(row.status)) {
    await close();
    return replay(context, row);
  }
  const ended = flatten(events, (e) => e.taskId === id && TERMINAL_STATUSES.has(e.status), { until: () => true });
  return new Repeater<TaskOutputEvent>(async (push, stop) => {
    // Chunks already on their way when the end is announced still get through.
    void ended.next().then(() => setTimeout(() => stop(), OUTPUT_TAIL_MS).unref());
    const stopped = stop.then(() => ({ done: true as const, value: undefined }));
    try {
      for (;;) {
        const next = await Promise.race([chunks.next(), stopped]);
        if (next.done) break;
        if (next.value.tenantId === context.tenantId) await push(next.value);
      }
    } finally {
      stop();
      await Promise.all([chunks.return?.(), ended.return()]);
    }
  });
}

async function replay(context: Context, row: TaskRow): Promise<AsyncIterable<TaskOutputEvent>> {
  const last = row.attempts > 0 ? (await context.deps.store.tasks.attempts(row.id)).at(-1) : undefined;
  const out: TaskOutputEvent[] = [];
  if (last?.stdout.length) out.push({ taskId: row.id, tenantId: row.tenantId, attempt: last.n, stream: 'stdout', data: last.stdout });
  if (last?.stderr.length) out.push({ taskId: row.id, tenantId: row.tenantId, attempt: last.n, stream: 'stderr', data: last.stderr });
  return new Repeater<TaskOutputEvent>(async (push, stop) => {
    for (const chunk of out) await push(chunk);
    stop();
  });
}

@Resolver(() => TaskEventType)
export class TaskEventResolver {
  @Subscription(() => TaskEventType, {
    subscribe: subscribeTaskUpdated,
    description: "The task's current state at once, then every change of it.",
  })
  taskUpdated(@Root() event: TaskEvent, @Arg('id', () => ID) _id: string): TaskEvent {
    return event;
  }

  @Subscription(() => TaskEventType, { subscribe: subscribeTaskEvents, description: 'Every task state change matching the filter.' })
  taskEvents(@Root() event: TaskEvent, @Arg('filter', () => TaskEventFilterInput, { nullable: true }) _filter?: TaskEventFilterInput | null): TaskEvent {
    return event;
  }

  @Subscription(() => OutputChunkType, {
    subscribe: subscribeTaskOutput,
    description: 'Live stdout/stderr chunks until the task ends; for an ended task, its last output replayed, then complete.',
  })
  taskOutput(@Root() chunk: TaskOutputEvent, @Arg('id', () => ID) _id: string): OutputChunkType {
    return { taskId: chunk.taskId, attempt: chunk.attempt, stream: chunk.stream, data: utf8Lossy(chunk.data), base64: toBase64(chunk.data) };
  }

  @FieldResolver(() => Task, { description: 'The task as it is now (loaded on demand).' })
  async task(@Root() event: TaskEvent, @Ctx() ctx: Context): Promise<TaskRow> {
    const row = await ctx.loaders.task.load(event.taskId);
    if (!row) throw notFoundAt('taskId', 'task', event.taskId);
    return row;
  }
}
