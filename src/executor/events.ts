/**
 * The event bus: one typed pub/sub for task events, live output, cancellations and node stats.
 * In-process by default; with a Redis URL every publish fans out to every node, so a subscriber on
 * node A sees the tasks that node B runs, and a cancel on A pre-empts the run on B.
 *
 * `pubsub` is what type-graphql's `pubSub` option and the resolvers use (`publish(topic, ...args)`,
 * `subscribe(topic, id?)`); `on` is a cheaper direct listener for the executor's own needs.
 */
import { createPubSub } from '@graphql-yoga/subscription';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import type { EventBus, Topics } from './types.js';

export interface EventBusOptions {
  /** Redis URL for cross-node fan-out (REDIS_URL). Unset: in-process only. */
  redisUrl?: string;
  /**
   * Prefix of every Redis channel (default "spindle:"), so deployments, and test files, that share
   * one Redis do not hear each other.
   */
  channelPrefix?: string;
  /** Redis connection errors (ioredis reconnects by itself). Default: console.error. */
  onConnectionError?: (err: Error) => void;
  /** Where errors thrown by listeners go (a listener never breaks the publisher). Default: console.error. */
  onListenerError?: (err: unknown, topic: string) => void;
}

type Listener = (event: { detail: unknown }) => void;
type ListenerLike = Listener | { handleEvent: Listener } | null;
interface MinimalTarget {
  addEventListener(topic: string, cb: ListenerLike): void;
  removeEventListener(topic: string, cb: ListenerLike): void;
  dispatchEvent(event: { type: string; detail?: unknown }): boolean;
}

export function makeEventBus(options: EventBusOptions = {}): EventBus {
  const onError = options.onListenerError ?? ((err, topic) => console.error(`event bus: a listener of ${topic} threw`, err));
  let target: MinimalTarget;
  let close = async () => {};
  if (options.redisUrl) {
    // Two connections: a Redis connection in subscriber mode cannot publish.
    const publishClient = new Redis(options.redisUrl);
    const subscribeClient = new Redis(options.redisUrl);
    // ioredis reconnects by itself; without a listener its errors would go to stderr unformatted.
    const onConnectionError = options.onConnectionError ?? ((err: Error) => console.error('event bus: redis connection error', err.message));
    publishClient.on('error', onConnectionError);
    subscribeClient.on('error', onConnectionError);
    const redisTarget = createRedisEventTarget({ publishClient, subscribeClient, serializer: wireSerializer }) as unknown as MinimalTarget;
    target = prefixed(guarded(redisTarget, onError), options.channelPrefix ?? 'spindle:');
    close = async () => {
      // QUIT waits for the server; a Redis that is gone must not hold shutdown up.
      let timer: NodeJS.Timeout | undefined;
      const quit = Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
      await Promise.race([quit, new Promise((resolve) => (timer = setTimeout(resolve, 1_000)))]);
      clearTimeout(timer);
      publishClient.disconnect();
      subscribeClient.disconnect();
    };
  } else {
    target = makeLocalTarget(onError);
  }
  const pubsub = createPubSub<Topics>({ eventTarget: target as never });
  return {
    pubsub,
    kind: options.redisUrl ? 'redis' : 'memory',
    on(topic, listener) {
      const cb: Listener = (event) => listener(event.detail as never);
      target.addEventListener(topic, cb);
      return () => target.removeEventListener(topic, cb);
    },
    close,
  };
}

/**
 * An in-process event target: a map of listener sets. Cheaper than Node's EventTarget, and a
 * listener that throws (e.g. a slow subscriber's repeater overflowing) is reported, not rethrown
 * into the publisher or the process.
 */
function makeLocalTarget(onError: (err: unknown, topic: string) => void): MinimalTarget {
  const listeners = new Map<string, Set<Listener>>();
  return {
    addEventListener(topic, cb) {
      const fn = toFn(cb);
      if (!fn) return;
      let set = listeners.get(topic);
      if (!set) listeners.set(topic, (set = new Set()));
      set.add(fn);
    },
    removeEventListener(topic, cb) {
      const fn = toFn(cb);
      const set = listeners.get(topic);
      if (!fn || !set) return;
      set.delete(fn);
      if (set.size === 0) listeners.delete(topic);
    },
    dispatchEvent(event) {
      const set = listeners.get(event.type);
      if (!set) return true;
      for (const fn of set) {
        try {
          fn(event as { detail: unknown });
        } catch (err) {
          onError(err, event.type);
        }
      }
      return true;
    },
  };
}

/** Wraps a target so its listeners' exceptions are reported instead of escaping (Redis message handler). */
function guarded(inner: MinimalTarget, onError: (err: unknown, topic: string) => void): MinimalTarget {
  const wrapped = new Map<string, Map<Listener, Listener>>();
  return {
    addEventListener(topic, cb) {
      const fn = toFn(cb);
      if (!fn) return;
      const safe: Listener = (event) => {
        try {
          fn(event);
        } catch (err) {
          onError(err, topic);
        }
      };
      let byTopic = wrapped.get(topic);
      if (!byTopic) wrapped.set(topic, (byTopic = new Map()));
      byTopic.set(fn, safe);
      inner.addEventListener(topic, safe);
    },
    removeEventListener(topic, cb) {
      const fn = toFn(cb);
      const byTopic = wrapped.get(topic);
      const safe = fn && byTopic?.get(fn);
      if (!safe) return;
      byTopic!.delete(fn!);
      if (byTopic!.size === 0) wrapped.delete(topic);
      inner.removeEventListener(topic, safe);
    },
    dispatchEvent: (event) => inner.dispatchEvent(event),
  };
}

/** Renames every topic to `prefix + topic` on the way to the inner target. */
function prefixed(inner: MinimalTarget, prefix: string): MinimalTarget {
  if (!prefix) return inner;
  return {
    addEventListener: (topic, cb) => inner.addEventListener(prefix + topic, cb),
    removeEventListener: (topic, cb) => inner.removeEventListener(prefix + topic, cb),
    dispatchEvent: (event) => inner.dispatchEvent({ type: prefix + event.type, detail: event.detail }),
  };
}

const toFn = (cb: ListenerLike): Listener | null => (cb === null ? null : typeof cb === 'function' ? cb : cb.handleEvent.bind(cb));

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
