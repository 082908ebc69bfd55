/**
 * The event bus's link to Redis: publishes this node's messages to every other node and delivers
 * theirs here. Redis is optional at run time: the link never queues, never throws, never leaves a
 * promise unhandled, and knows its own state for /healthz.
 *
 * - Publish only while connected (`enableOfflineQueue: false`): a message published during an
 *   outage is dropped and counted, not piled up until ioredis rejects the lot (its
 *   MaxRetriesPerRequestError, unhandled, used to kill the process ~10 s into an outage).
 * - Reconnect forever with a capped backoff. The subscriber re-subscribes by itself (our own set
 *   of channels, not ioredis's autoResubscribe, whose SUBSCRIBE promise nobody handles).
 * - Messages carry an origin id: this node already delivered its own messages locally (events.ts),
 *   so their echo from Redis is skipped.
 * - "pub/sub down" and "pub/sub back after N s" are logged once per outage. On the way back the
 *   link reports the gap (onGap) and announces it to the other nodes, so every node can replay
 *   what its subscribers may have missed — also when only this node was cut off.
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger, PubSubHealth } from './types.js';

export interface RedisLinkOptions {
  url: string;
  /** Prefix of every channel, so deployments (and test files) sharing one Redis stay apart. */
  prefix: string;
  /** This node's name, in the connections' names (CLIENT LIST shows spindle:<name>:pub / :sub). */
  name?: string;
  /** A message from another node for `topic` (the bus hands it to local listeners). */
  deliver(topic: string, detail: unknown): void;
  /** Messages published from `since` until now may have been missed here (this node's gap, or another's). */
  onGap(since: Date): void;
  serializer: { stringify(value: unknown): string; parse(text: string): unknown };
  logger: Logger;
}

export interface RedisLink {
  /** Sends to the other nodes; dropped (and counted) while Redis is unreachable. */
  publish(topic: string, detail: unknown): void;
  /** Starts / stops hearing a topic from the other nodes (first / last local listener). */
  listen(topic: string): void;
  unlisten(topic: string): void;
  health(): PubSubHealth;
  /** Resolves true once connected, or false after `timeoutMs`. */
  whenUp(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Reconnect delays 200, 400, 800, 1 600, then every 2 000 ms, forever. */
export const reconnectDelayMs = (attempt: number): number => Math.min(100 * 2 ** Math.min(attempt, 5), 2_000);

/** Internal channel (after the prefix) on which a node that was cut off announces its gap. */
const GAP_TOPIC = '$gap';
/**
 * Channels are `<prefix>v2:<topic>`. v2 messages are envelopes ({o, d}); the nodes before them
 * (@graphql-yoga/redis-event-target) sent bare payloads on `<prefix><topic>`. Apart, the two never
 * misread each other's messages on a shared Redis (during a rolling upgrade they just do not hear
 * each other).
 */
const WIRE = 'v2:';
/**
 * Publishes held while the link connects for the first time (a bus used right after it is made),
 * sent once it is up. Only then: once Redis has been reached, an outage drops, it never queues.
 */
const FIRST_CONNECT_BUFFER = 1_000;

interface Envelope {
  /** Origin: the bus that published it. */
  o: string;
  d: unknown;
}

export function makeRedisLink(options: RedisLinkOptions): RedisLink {
  const { serializer, logger } = options;
  const prefix = options.prefix + WIRE;
  const origin = randomBytes(8).toString('hex');
  const connection: RedisOptions = {
    enableOfflineQueue: false,
    // With no offline queue nothing waits for a reconnect; what was in flight when the connection
    // dropped is not resent (a stale event is worse than a dropped one: the replay covers drops).
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    retryStrategy: reconnectDelayMs,
  };
  // Connection names are one word: anything but [\w.:-] in the node's name becomes '_'.
  const name = `spindle:${(options.name ?? origin).replace(/[^\w.:-]/g, '_')}`;
  const pub = new Redis(options.url, { ...connection, connectionName: `${name}:pub` });
  const sub = new Redis(options.url, { ...connection, connectionName: `${name}:sub` });

  /** Channels wanted on the subscriber connection (prefixed), kept across reconnects. */
  const channels = new Set<string>([prefix + GAP_TOPIC]);
  /** The subscriber has (re)subscribed `channels` on its current connection. */
  let subscribed = false;
  let state: PubSubHealth['state'] = 'connecting';
  let since = new Date();
  let lastError: string | undefined;
  let dropped = 0;
  let droppedAtDown = 0;
  /** Publishes made before the first connection (null once the link was up or down once). */
  let early: { channel: string; text: string }[] | null = [];
  let closing = false;
  const upWaiters = new Set<() => void>();

  const noteError = (err: Error) => {
    lastError = err.message;
    update();
  };
  pub.on('error', noteError);
  sub.on('error', noteError);
  for (const client of [pub, sub]) for (const event of ['ready', 'close', 'end']) client.on(event, update);
  sub.on('close', () => (subscribed = false));
  sub.on('ready', () => {
    sub.subscribe(...channels).then(
      () => {
        subscribed = sub.status === 'ready';
        update();
      },
      // The connection dropped again before the answer: the next 'ready' tries again.
      noteError,
    );
  });
  sub.on('message', onMessage);

  /** Moves between connecting/up/down on every connection event; logs only the transitions. */
  function update() {
    if (closing) return;
    const up = pub.status === 'ready' && sub.status === 'ready' && subscribed;
    if (up && state !== 'up') {
      const gapSince = since;
      const wasDown = state === 'down';
      state = 'up';
      since = new Date();
      lastError = undefined;
      for (const resolve of upWaiters) resolve();
      upWaiters.clear();
      for (const { channel, text } of early ?? []) write(channel, text);
      early = null;
      if (!wasDown) return logger.info({}, 'pub/sub connected to Redis');
      const downS = ((since.getTime() - gapSince.getTime()) / 1000).toFixed(1);
      logger.info({ downSince: gapSince, droppedPublishes: dropped - droppedAtDown }, `pub/sub back after ${downS} s, replaying`);
      send(GAP_TOPIC, { since: gapSince });
      options.onGap(gapSince);
    } else if (!up && state !== 'down' && (state === 'up' || lastError !== undefined)) {
      // From 'connecting', only once an error shows Redis is not simply slow to answer; the gap
      // then starts when the link was made, as nothing has been heard from Redis since.
      if (state === 'up') since = new Date();
      state = 'down';
      dropped += early?.length ?? 0;
      early = null;
      droppedAtDown = dropped;
      lastError ??= 'connection to Redis closed';
      logger.warn({ error: lastError }, 'pub/sub down: Redis unreachable; publishes are dropped and events replayed from the database once it is back');
    }
  }

  function onMessage(channel: string, text: string) {
    if (!channel.startsWith(prefix)) return;
    let message: Envelope | null;
    try {
      message = serializer.parse(text) as Envelope | null;
    } catch (err) {
      return logger.warn({ err, channel }, 'pub/sub: dropped a message that does not parse');
    }
    if (message === null || typeof message !== 'object' || typeof message.o !== 'string' || !('d' in message)) {
      return logger.warn({ channel }, 'pub/sub: dropped a message that is not an envelope');
    }
    if (message.o === origin) return;
    const topic = channel.slice(prefix.length);
    if (topic === GAP_TOPIC) return options.onGap(new Date((message.d as { since: Date }).since));
    options.deliver(topic, message.d);
  }

  function send(topic: string, detail: unknown) {
    const channel = prefix + topic;
    if (pub.status === 'ready') return write(channel, serializer.stringify({ o: origin, d: detail } satisfies Envelope));
    if (early && early.length < FIRST_CONNECT_BUFFER) early.push({ channel, text: serializer.stringify({ o: origin, d: detail } satisfies Envelope) });
    else dropped++;
  }

  function write(channel: string, text: string) {
    pub.publish(channel, text).catch((err: Error) => {
      dropped++;
      lastError = err.message;
    });
  }

  return {
    publish: send,
    listen(topic) {
      const channel = prefix + topic;
      if (channels.has(channel)) return;
      channels.add(channel);
      if (sub.status === 'ready') sub.subscribe(channel).catch(noteError);
    },
    unlisten(topic) {
      const channel = prefix + topic;
      if (!channels.delete(channel)) return;
      if (sub.status === 'ready') sub.unsubscribe(channel).catch(noteError);
    },
    health: () => ({
      kind: 'redis',
      state,
      since,
      ...(state !== 'up' && lastError !== undefined ? { error: lastError } : {}),
      droppedPublishes: dropped,
    }),
    whenUp(timeoutMs) {
      if (state === 'up') return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          upWaiters.delete(done);
          resolve(state === 'up');
        };
        const timer = setTimeout(done, timeoutMs);
        upWaiters.add(done);
      });
    },
    async close() {
      closing = true;
      for (const resolve of upWaiters) resolve();
      // QUIT waits for the server; a Redis that is gone must not hold shutdown up.
      let timer: NodeJS.Timeout | undefined;
      const quit = Promise.allSettled([pub.quit(), sub.quit()]);
      await Promise.race([quit, new Promise((resolve) => (timer = setTimeout(resolve, 1_000)))]);
      clearTimeout(timer);
      pub.disconnect();
      sub.disconnect();
    },
  };
}
