/**
 * The event bus: one typed pub/sub for task events, live output, cancellations and node stats.
 * In-process by default; with a Redis URL every publish also fans out to the other nodes, so a
 * subscriber on node A sees the tasks that node B runs, and a cancel on A pre-empts the run on B.
 *
 * A node's own publishes reach its own listeners directly, never through Redis: its subscribers
 * and its executor keep working, and lose nothing of their own, while Redis is away. Redis only
 * carries what the other nodes need (redis-link.ts); after an outage the task ends this node may
 * have missed are replayed from the database (replay.ts).
 *
 * `pubsub` is what type-graphql's `pubSub` option and the resolvers use (`publish(topic, ...args)`,
 * `subscribe(topic, id?)`); `on` is a cheaper direct listener for the executor's own needs.
 */
import { createPubSub } from '@graphql-yoga/subscription';
import { TERMINAL_STATUSES } from '../domain/index.js';
import { makeRedisLink, type RedisLink } from './redis-link.js';
import { makeReplayer, type ReplaySource } from './replay.js';
import type { BusPubSub, EventBus, Logger, PlainTopic, PubSubHealth, TaskEvent, Topics } from './types.js';

export interface EventBusOptions {
  /** Redis URL for cross-node fan-out (REDIS_URL). Unset: in-process only. */
  redisUrl?: string;
  /**
   * Prefix of every Redis channel (default "spindle:"), so deployments, and test files, that share
   * one Redis do not hear each other.
   */
  channelPrefix?: string;
  /** This node's name, in the names of its Redis connections (CLIENT LIST). */
  name?: string;
  /**
   * After a pub/sub gap: the terminal events of the tasks that finished in it, read from the
   * database (replay.ts `finishedEvents`). Unset: no replay.
   */
  replay?: ReplaySource;
  /** Pub/sub state changes (down, back, replays). Default: the console. */
  logger?: Logger;
  /** Where errors thrown by listeners go (a listener never breaks the publisher). Default: console.error. */
  onListenerError?: (err: unknown, topic: string) => void;
}

type Listener = (event: { detail: unknown }) => void;

/**
 * Per-task topics (`TASK_EVENTS_OF:<taskId>`) the bus derives from the batch topics as it
 * dispatches them, and the topic each is derived from: the one to hear from Redis.
 */
const DERIVED: Record<string, { from: string; taskId: (item: never) => string }> = {
  TASK_EVENTS_OF: { from: 'TASK_EVENTS', taskId: (e: TaskEvent) => e.taskId },
  TASK_DELETED_OF: { from: 'TASK_DELETED', taskId: (id: string) => id },
};
const DERIVED_FROM = new Map(Object.entries(DERIVED).map(([name, d]) => [d.from, { prefix: `${name}:`, taskId: d.taskId as (item: unknown) => string }]));
/** The topic whose messages `topic`'s listeners hear: the batch topic of a per-task one, else itself. */
function sourceOf(topic: string): string {
  const colon = topic.indexOf(':');
  return (colon > 0 && DERIVED[topic.slice(0, colon)]?.from) || topic;
}
type ListenerLike = Listener | { handleEvent: Listener } | null;

export function makeEventBus(options: EventBusOptions = {}): EventBus {
  const onError = options.onListenerError ?? ((err, topic) => console.error(`event bus: a listener of ${topic} threw`, err));
  const logger = options.logger ?? consoleLogger;
  let link: RedisLink | null = null;
  const local = makeLocalTarget(onError, {
    first: (topic) => link?.listen(topic),
    last: (topic) => link?.unlisten(topic),
  });
  const ownEnds = makeGapMemory();
  const replayer = options.replay
    ? makeReplayer({
        source: options.replay,
        // Subscriptions only: the executor has no use for old ends, and the metrics would count them
        // twice. And not the ends this node published itself during the gap: its subscribers had those.
        deliver: (events: TaskEvent[]) => {
          const missed = events.filter((e) => !ownEnds.has(e.taskId));
          if (missed.length > 0) local.dispatch('TASK_EVENTS', missed, { subscriptionsOnly: true });
        },
        wanted: () => local.subscriptions('TASK_EVENTS') > 0,
        logger,
      })
    : null;
  if (options.redisUrl) {
    link = makeRedisLink({
      url: options.redisUrl,
      prefix: options.channelPrefix ?? 'spindle:',
      name: options.name,
      serializer: wireSerializer,
      logger,
      deliver: (topic, detail) => local.dispatch(topic, detail),
      onGap: (since) => replayer?.request(since),
    });
  }
  const createdAt = new Date();
  const yoga = createPubSub<Topics>({
    eventTarget: {
      addEventListener: (topic: string, cb: ListenerLike) => local.add(topic, cb),
      removeEventListener: (topic: string, cb: ListenerLike) => local.remove(topic, cb),
      dispatchEvent(event: { type: string; detail?: unknown }) {
        local.dispatch(event.type, event.detail);
        if (!link) return true;
        if (event.type === 'TASK_EVENTS' && replayer) {
          const { state, since } = link.health();
          if (state !== 'up') ownEnds.add(since, event.detail as TaskEvent[]);
        }
        link.publish(event.type, event.detail);
        return true;
      },
    } as never,
  });
  /** A plain listener of `topic`; `direct`: not a subscription (no replays), as EventBus.on. */
  const attach = (topic: string, listener: (payload: never) => void, direct: boolean) => {
    const cb: Listener = (event) => listener(event.detail as never);
    local.add(topic, cb, { direct });
    return () => local.remove(topic, cb);
  };
  const pubsub: BusPubSub = Object.assign(yoga, {
    listen: <K extends PlainTopic>(topic: K, listener: (payload: Topics[K][0]) => void) => attach(topic, listener, false),
  });
  return {
    pubsub,
    kind: link ? 'redis' : 'memory',
    on: (topic, listener) => attach(topic, listener, true),
    health: (): PubSubHealth => link?.health() ?? { kind: 'memory', state: 'up', since: createdAt, droppedPublishes: 0 },
    whenUp: (timeoutMs) => link?.whenUp(timeoutMs) ?? Promise.resolve(true),
    async close() {
      replayer?.close();
      await link?.close();
    },
  };
}

/**
 * The task ends this node published (and so delivered to its own subscribers) during the current
 * pub/sub gap, so the replay after it does not hand them over twice. Forgotten when a new gap
 * begins; bounded (past GAP_MEMORY_MAX ids, later ends may be replayed twice: at least once holds).
 */
const GAP_MEMORY_MAX = 100_000;
function makeGapMemory() {
  let gap = 0;
  const ids = new Set<string>();
  return {
    add(since: Date, events: TaskEvent[]) {
      if (gap !== since.getTime()) {
        gap = since.getTime();
        ids.clear();
      }
      for (const e of events) if (TERMINAL_STATUSES.has(e.status) && ids.size < GAP_MEMORY_MAX) ids.add(e.taskId);
    },
    has: (taskId: string) => ids.has(taskId),
  };
}

/** Without a logger: warnings and errors (pub/sub down, a failed replay) on the console, the rest nowhere. */
const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn: (obj, msg) => console.warn(msg, obj),
  error: (obj, msg) => console.error(msg, obj),
};

interface LocalTarget {
  add(topic: string, cb: ListenerLike, options?: { direct?: boolean }): void;
  remove(topic: string, cb: ListenerLike): void;
  /** Calls every listener of `topic` (with subscriptionsOnly, not the direct `on` ones). */
  dispatch(topic: string, detail: unknown, options?: { subscriptionsOnly?: boolean }): void;
  /** Listeners of `topic` that are subscriptions (not direct `on` listeners). */
  subscriptions(topic: string): number;
}

/**
 * This node's listeners: a map of listener sets. Cheaper than Node's EventTarget, and a listener
 * that throws (e.g. a slow subscriber's repeater overflowing) is reported, not rethrown into the
 * publisher or the process. `first` / `last` tell the Redis link when to (un)subscribe a topic; a
 * per-task topic (DERIVED) counts as a listener of the batch topic it comes from.
 *
 * Dispatching a batch topic also hands each item to the listeners of its task's topic: one map
 * lookup per item, so a task's own subscribers cost nothing to the events of other tasks.
 */
function makeLocalTarget(onError: (err: unknown, topic: string) => void, edges: { first(topic: string): void; last(topic: string): void }): LocalTarget {
  const listeners = new Map<string, Set<Listener>>();
  /** Listeners per topic heard from Redis (a batch topic's own and those of its per-task topics). */
  const heard = new Map<string, number>();
  const direct = new WeakSet<Listener>();
  const handlers = new WeakMap<object, Listener>();
  const toFn = (cb: ListenerLike): Listener | null => {
    if (cb === null || typeof cb === 'function') return cb;
    let fn = handlers.get(cb);
    if (!fn) handlers.set(cb, (fn = cb.handleEvent.bind(cb)));
    return fn;
  };
  const call = (topic: string, set: Set<Listener> | undefined, detail: unknown, subscriptionsOnly?: boolean) => {
    if (!set) return;
    const event = { type: topic, detail };
    for (const fn of set) {
      if (subscriptionsOnly && direct.has(fn)) continue;
      try {
        fn(event);
      } catch (err) {
        onError(err, topic);
      }
    }
  };
  return {
    add(topic, cb, options) {
      const fn = toFn(cb);
      if (!fn) return;
      if (options?.direct) direct.add(fn);
      let set = listeners.get(topic);
      if (!set) listeners.set(topic, (set = new Set()));
      if (set.has(fn)) return;
      set.add(fn);
      const source = sourceOf(topic);
      const n = (heard.get(source) ?? 0) + 1;
      heard.set(source, n);
      if (n === 1) edges.first(source);
    },
    remove(topic, cb) {
      const fn = toFn(cb);
      const set = listeners.get(topic);
      if (!fn || !set?.delete(fn)) return;
      if (set.size === 0) listeners.delete(topic);
      const source = sourceOf(topic);
      const n = heard.get(source)! - 1;
      if (n > 0) return void heard.set(source, n);
      heard.delete(source);
      edges.last(source);
    },
    dispatch(topic, detail, options) {
      call(topic, listeners.get(topic), detail, options?.subscriptionsOnly);
      const derived = DERIVED_FROM.get(topic);
      if (!derived) return;
      for (const item of detail as unknown[]) {
        const perTask = derived.prefix + derived.taskId(item);
        const set = listeners.get(perTask);
        if (set) call(perTask, set, [item], options?.subscriptionsOnly);
      }
    },
    subscriptions(topic) {
      let n = 0;
      for (const fn of listeners.get(topic) ?? []) if (!direct.has(fn)) n++;
      for (const [name, d] of Object.entries(DERIVED)) {
        if (d.from !== topic) continue;
        for (const [t, set] of listeners) if (t.startsWith(`${name}:`)) for (const fn of set) if (!direct.has(fn)) n++;
      }
      return n;
    },
  };
}

/**
 * JSON that keeps what plain JSON loses on the way through Redis: Date, Uint8Array (output chunks)
 * and bigint (fuel). Tagged as {"$t":"d"|"b"|"n","v":…}; no payload of ours has a "$t" key.
 */
export const wireSerializer = {
  stringify(message: unknown): string {
    return JSON.stringify(message, function (this: Record<string, unknown>, key, value: unknown) {
      // Date.prototype.toJSON runs before the replacer sees the value: look at the raw one.
      const raw = this[key];
      if (raw instanceof Date) return { $t: 'd', v: raw.getTime() };
      if (raw instanceof Uint8Array) return { $t: 'b', v: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
      if (typeof raw === 'bigint') return { $t: 'n', v: raw.toString() };
      return value;
    });
  },
  parse(message: string): unknown {
    return JSON.parse(message, (_key, value: unknown) => {
      if (value !== null && typeof value === 'object' && '$t' in value && 'v' in value) {
        const { $t, v } = value as { $t: string; v: unknown };
        if ($t === 'd') return new Date(v as number);
        if ($t === 'b') return new Uint8Array(Buffer.from(v as string, 'base64'));
        if ($t === 'n') return BigInt(v as string);
      }
      return value;
    });
  },
};
