/**
 * Live subscriptions: taskUpdated(id), taskEvents(filter), taskOutput(id). Each subscribes to the
 * bus in a custom `subscribe`, so the schema needs no topic wiring and every filter runs on the
 * server: taskEvents to the TASK_EVENTS batches; the per-task ones to their task's own topics
 * (TASK_EVENTS_OF, TASK_DELETED_OF, TASK_OUTPUT per task id), so an event costs them nothing unless
 * it is their task's. taskUpdated and taskOutput complete when their task ends (taskUpdated right
 * after the terminal event) or is deleted (deleteTasks or the retention sweep, on any node).
 */
import 'reflect-metadata';
import { Repeater } from '@graphql-yoga/subscription';
import { Arg, Ctx, FieldResolver, ID, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { TERMINAL_STATUSES } from '../domain/index.js';
import { taskEvent, type TaskEvent, type TaskOutputEvent, type TaskRow } from '../services/types.js';
import { checkId, notFoundAt } from '../services/ids.js';
import { toBase64, utf8Lossy } from './codec.js';
import type { Context } from './context.js';
import { eager, endsWhen, flatten, pushed, type EndSignal } from './live.js';
import { TaskEventFilterInput } from './task.input.js';
import { lastAttempt } from './task.resolver.js';
import { OutputChunkType, TaskEventType } from './task-event.type.js';
import { Task } from './task.type.js';

type Data<A> = SubscribeResolverData<unknown, A, Context>;

/**
 * The task as it is now. Read after the bus subscriptions attached (the id was checked before
 * them), so no event falls between the two; `unsubscribe` lets them go when the read fails.
 */
async function current(context: Context, id: string, unsubscribe: () => Promise<unknown>): Promise<TaskRow> {
  try {
    return await context.services.tasks.get(context.caller, id);
  } catch (err) {
    await unsubscribe();
    throw err;
  }
}

/** Ends when task `id` is deleted. */
const deletion = (context: Context, id: string): EndSignal => endsWhen(eager(context.pubsub.subscribe('TASK_DELETED_OF', id)), () => true);

async function subscribeTaskUpdated({ args, context }: Data<{ id: string }>) {
  const { caller } = context;
  const id = checkId('id', args.id);
  const events = eager(context.pubsub.subscribe('TASK_EVENTS_OF', id));
  const deleted = deletion(context, id);
  const row = await current(context, id, () => Promise.all([events.return?.(), deleted.close()]));
  // The current state first: a client that subscribes after submitting never misses the end.
  // The terminal event is the last: a retry (retryTask) is followed by subscribing again.
  return flatten(events, (e) => e.tenantId === caller.tenantId, {
    initial: [taskEvent(row)],
    until: (e) => TERMINAL_STATUSES.has(e.status),
    end: deleted,
  });
}

async function subscribeTaskEvents({ args, context }: Data<{ filter?: TaskEventFilterInput | null }>) {
  const { caller } = context;
  const { statuses, agentId, taskIds } = await context.services.tasks.eventFilter(caller, args.filter);
  return pushed<TaskEvent>(
    (onBatch) => context.pubsub.listen('TASK_EVENTS', onBatch),
    (e) => e.tenantId === caller.tenantId && (!statuses || statuses.has(e.status)) && (!agentId || e.agentId === agentId) && (!taskIds || taskIds.has(e.taskId)),
  );
}

/**
 * Live chunks of a task until it reaches a terminal state, then what the last attempt's stored
 * result holds beyond the chunks delivered, each byte once: a subscriber that attached after the
 * attempt printed (a task started on its submit can print before its submitter subscribes) and saw
 * none of it live gets all of it. Live chunks are a tail: one that joins mid-stream gets what comes
 * from there. For a task that has already ended, its result's stdout and stderr (lastAttempt:
 * never a stale attempt) are replayed as (at most) two chunks, then the stream completes.
 */
async function subscribeTaskOutput({ args, context }: Data<{ id: string }>) {
  const id = checkId('id', args.id);
  const { pubsub } = context;
  const chunks = eager(pubsub.subscribe('TASK_OUTPUT', id));
  const events = eager(pubsub.subscribe('TASK_EVENTS_OF', id));
  const deleted = deletion(context, id);
  const close = () => Promise.all([chunks.return?.(), events.return?.(), deleted.close()]);
  const row = await current(context, id, close);
  if (TERMINAL_STATUSES.has(row.status)) {
    await close();
    const rest = await remainder(context, row, new Delivered());
    return new Repeater<TaskOutputEvent>(async (push, stop) => {
      for (const chunk of rest) await push(chunk);
      stop();
    });
  }
  const ended = flatten(events, (e) => TERMINAL_STATUSES.has(e.status), { until: () => true, end: deleted });
  return new Repeater<TaskOutputEvent>(async (push, stop) => {
    const sent = new Delivered();
    const stopped = stop.then(() => ({ done: true as const, value: undefined }));
    // The terminal event (done when the task was deleted or the client left first).
    const end = ended.next().then((r) => ({ end: r }));
    try {
      for (;;) {
        const next = await Promise.race([chunks.next(), stopped, end]);
        if ('end' in next) {
          // The task as it ended (null: deleted meanwhile, nothing to add).
          const task = next.end.done ? null : await context.loaders.task.load(id);
          if (task) for (const chunk of await remainder(context, task, sent)) await push(chunk);
          break;
        }
        if (next.done) break;
        if (next.value.tenantId !== context.caller.tenantId) continue;
        const fresh = sent.take(next.value);
        if (fresh) await push(fresh);
      }
    } finally {
      stop();
      await Promise.all([chunks.return?.(), ended.return()]);
    }
  });
}

/**
 * How far each attempt's stdout and stderr have been delivered to one subscriber. Chunks carry
 * their offset, so a repeat (the stored output after live chunks) is cut to what is new; a chunk
 * past the end (the subscriber attached after the attempt had printed) is delivered as it is.
 */
class Delivered {
  private readonly ends = new Map<string, number>();

  take(chunk: TaskOutputEvent): TaskOutputEvent | null {
    const key = `${chunk.attempt}:${chunk.stream}`;
    const end = this.ends.get(key) ?? 0;
    const skip = Math.max(0, end - chunk.offset);
    if (skip >= chunk.data.length) return null;
    this.ends.set(key, chunk.offset + chunk.data.length);
    return skip === 0 ? chunk : { ...chunk, offset: end, data: chunk.data.subarray(skip) };
  }
}

/** What the stored result of the task's last attempt holds beyond what `sent` delivered: all of it for a new subscriber. */
async function remainder(context: Context, task: TaskRow, sent: Delivered): Promise<TaskOutputEvent[]> {
  const last = await lastAttempt(task, context);
  if (!last) return [];
  const out: TaskOutputEvent[] = [];
  for (const [stream, data] of [['stdout', last.stdout], ['stderr', last.stderr]] as const) {
    const chunk = data.length > 0 ? sent.take({ taskId: task.id, tenantId: task.tenantId, attempt: last.n, stream, offset: 0, data }) : null;
    if (chunk) out.push(chunk);
  }
  return out;
}

@Resolver(() => TaskEventType)
export class TaskEventResolver {
  @Subscription(() => TaskEventType, {
    subscribe: subscribeTaskUpdated,
    description:
      "The task's current state at once, then every change of it; completes right after the event of a terminal status (SUCCEEDED, FAILED, CANCELLED), " +
      'at once for a task that has ended, and when the task is deleted. A task queued again by retryTask is followed by subscribing again.',
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
    description:
      "Live stdout/stderr chunks until the task ends, then what its last attempt's stored output holds beyond the chunks delivered (all of it when none were), each byte once; " +
      'for an ended task, its last output replayed, then complete.',
  })
  taskOutput(@Root() chunk: TaskOutputEvent, @Arg('id', () => ID) _id: string): OutputChunkType {
    return { taskId: chunk.taskId, attempt: chunk.attempt, stream: chunk.stream, offset: chunk.offset, data: utf8Lossy(chunk.data), base64: toBase64(chunk.data) };
  }

  @FieldResolver(() => Task, { description: 'The task as it is now (loaded on demand).' })
  async task(@Root() event: TaskEvent, @Ctx() ctx: Context): Promise<TaskRow> {
    const row = await ctx.loaders.task.load(event.taskId);
    if (!row) throw notFoundAt('taskId', 'task', event.taskId);
    return row;
  }
}
