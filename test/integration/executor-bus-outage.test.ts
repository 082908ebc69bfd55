/**
 * The event bus when Redis goes away and comes back (a private redis-server, stopped and started
 * on the same port): a node's own messages keep reaching its own listeners, messages for the
 * others are dropped (not queued for later), the link says it is down, re-subscribes by itself,
 * and asks for a replay of the gap — also when only one node was cut off.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeEventBus } from '../../src/executor/events.js';
import type { ReplaySource } from '../../src/executor/replay.js';
import type { EventBus, Logger, TaskEvent } from '../../src/executor/types.js';
import { haveRedisServer, startRedis, type PrivateRedis } from '../helpers/redis-server.js';
import { sleep, waitFor } from '../helpers/wait.js';

const servicesRequired = process.env.SPINDLE_REQUIRE_SERVICES === '1';

/** Time for a Redis subscription to take effect, or for a message that must not come to not come. */
const settle = (ms = 300) => sleep(ms);

const ended = (taskId: string): TaskEvent => ({ taskId, tenantId: 't', agentId: 'a', status: 'SUCCEEDED', attempt: 1, outcome: 'exited', exitCode: 0, at: new Date() });

interface TestNode {
  bus: EventBus;
  name: string;
  logs: string[];
  /** `since` of every replay the bus ran. */
  replays: Date[];
}

function makeNode(url: string, prefix: string, replayed: TaskEvent[] = []): TestNode {
  const name = `n-${randomBytes(3).toString('hex')}`;
  const logs: string[] = [];
  const replays: Date[] = [];
  const log = (level: string) => (_obj: object, msg?: string) => void logs.push(`${level} ${msg}`);
  const logger: Logger = { debug() {}, info: log('info'), warn: log('warn'), error: log('error') };
  const replay: ReplaySource = async function* (since) {
    replays.push(since);
    yield replayed;
  };
  return { bus: makeEventBus({ redisUrl: url, channelPrefix: prefix, name, logger, replay }), name, logs, replays };
}

if (haveRedisServer) {
  describe('event bus through a Redis outage', () => {
    let redis: PrivateRedis;
    const nodes: TestNode[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);

    beforeAll(async () => {
      redis = await startRedis();
      process.on('unhandledRejection', onUnhandled);
    });
    afterEach(async () => {
      await Promise.all(nodes.splice(0).map((n) => n.bus.close()));
      await redis.start();
    });
    afterAll(async () => {
      process.off('unhandledRejection', onUnhandled);
      await redis?.stop();
    });

    const node = (prefix: string, replayed?: TaskEvent[]) => {
      const n = makeNode(redis.url, prefix, replayed);
      nodes.push(n);
      return n;
    };

    it('keeps local delivery, drops what the others would get, re-subscribes and replays the gap', { timeout: 60_000 }, async () => {
      const prefix = `outage-${randomBytes(4).toString('hex')}:`;
      const a = node(prefix);
      // What B's database holds for the gap: an end B published itself, and two from elsewhere.
      const b = node(prefix, [ended('own-during'), ended('missed-1'), ended('missed-2')]);
      expect(await a.bus.whenUp(10_000)).toBe(true);
      expect(await b.bus.whenUp(10_000)).toBe(true);

      const onA: string[][] = [];
      const onB: string[][] = [];
      a.bus.on('TASK_CANCEL', (ids) => onA.push(ids));
      b.bus.on('TASK_CANCEL', (ids) => onB.push(ids));
      // On B: one subscription (GraphQL's way in) and one direct listener of TASK_EVENTS.
      const subscription = b.bus.pubsub.subscribe('TASK_EVENTS')[Symbol.asyncIterator]();
      const subscribed: string[] = [];
      void (async () => {
        for (let r = await subscription.next(); !r.done; r = await subscription.next()) subscribed.push(...r.value.map((e) => e.taskId));
      })();
      const direct: string[] = [];
      b.bus.on('TASK_EVENTS', (events) => direct.push(...events.map((e) => e.taskId)));
      await settle();

      a.bus.pubsub.publish('TASK_CANCEL', ['before']);
      await waitFor('B hears A', () => onB.length === 1);

      const outageStart = new Date();
      await redis.stop();
      await waitFor('both links down', () => a.bus.health().state === 'down' && b.bus.health().state === 'down');
      expect(a.bus.health()).toMatchObject({ kind: 'redis', state: 'down', error: expect.stringMatching(/ECONNREFUSED|closed/) });
      const droppedBefore = a.bus.health().droppedPublishes;
      a.bus.pubsub.publish('TASK_CANCEL', ['during']);
      expect(onA.map((ids) => ids[0])).toEqual(['before', 'during']);
      b.bus.pubsub.publish('TASK_EVENTS', [ended('own-during')]);
      await waitFor('B delivered its own end at once', () => subscribed.length === 1);
      expect(a.bus.health().droppedPublishes).toBe(droppedBefore + 1);
      // Long enough for several reconnect attempts (each one an 'error' that must not escape).
      await settle(3_000);

      await redis.start();
      await waitFor('both links up', () => a.bus.health().state === 'up' && b.bus.health().state === 'up');
      a.bus.pubsub.publish('TASK_CANCEL', ['after']);
      await waitFor('B hears A again (re-subscribed)', () => onB.length >= 2);
      await settle();
      // Dropped, not queued: "during" never reaches B, not even late.
      expect(onB.map((ids) => ids[0])).toEqual(['before', 'after']);

      // B replays from before the outage began (the margin), into its subscription only, and not
      // the end it delivered itself during the gap.
      await waitFor('B replayed', () => subscribed.includes('missed-2'));
      expect(b.replays.length).toBeGreaterThanOrEqual(1);
      expect(b.replays[0]!.getTime()).toBeLessThanOrEqual(outageStart.getTime());
      expect(subscribed).toEqual(['own-during', 'missed-1', 'missed-2']);
      expect(direct).toEqual(['own-during']);
      // A has no TASK_EVENTS subscription: it reads nothing.
      expect(a.replays).toEqual([]);

      for (const n of [a, b]) {
        expect(n.logs.filter((l) => l.startsWith('warn pub/sub down'))).toHaveLength(1);
        expect(n.logs.filter((l) => /^info pub\/sub back after [\d.]+ s, replaying$/.test(l))).toHaveLength(1);
      }
      expect(unhandled).toEqual([]);
      await subscription.return?.();
    });

    it('a node cut off alone announces its gap, and the others replay it too', { timeout: 60_000 }, async () => {
      const prefix = `gap-${randomBytes(4).toString('hex')}:`;
      const a = node(prefix);
      const b = node(prefix, [ended('finished-on-a')]);
      expect(await a.bus.whenUp(10_000)).toBe(true);
      expect(await b.bus.whenUp(10_000)).toBe(true);
      const subscription = b.bus.pubsub.subscribe('TASK_EVENTS')[Symbol.asyncIterator]();
      const next = subscription.next();
      await settle();

      // Only A's connections go: B never notices anything.
      const admin = new Redis(redis.url);
      try {
        const list = (await admin.client('LIST')) as string;
        const ids = list.split('\n').filter((l) => l.includes(` name=spindle:${a.name}:`)).map((l) => /\bid=(\d+)/.exec(l)![1]!);
        expect(ids).toHaveLength(2);
        for (const id of ids) await admin.client('KILL', 'ID', id);
      } finally {
        admin.disconnect();
      }
      await waitFor('A logged its gap', () => a.logs.some((l) => l.startsWith('info pub/sub back after')));
      expect((await next).value?.map((e: TaskEvent) => e.taskId)).toEqual(['finished-on-a']);
      expect(b.logs.some((l) => l.startsWith('warn pub/sub down'))).toBe(false);
      expect(b.replays).toHaveLength(1);
      await subscription.return?.();
    });

    it('a bus used before its first connection loses nothing: those publishes wait for it', { timeout: 30_000 }, async () => {
      const prefix = `early-${randomBytes(4).toString('hex')}:`;
      const b = node(prefix);
      expect(await b.bus.whenUp(10_000)).toBe(true);
      const heard: string[][] = [];
      b.bus.on('TASK_CANCEL', (ids) => heard.push(ids));
      const a = node(prefix);
      expect(a.bus.health().state).toBe('connecting');
      a.bus.pubsub.publish('TASK_CANCEL', ['sent-while-connecting']);
      await waitFor('B hears it', () => heard.length === 1);
      expect(heard).toEqual([['sent-while-connecting']]);
      expect(a.bus.health().droppedPublishes).toBe(0);
    });

    it('ignores what is not its own wire format (older nodes, strangers) on a shared Redis', { timeout: 30_000 }, async () => {
      const prefix = `wire-${randomBytes(4).toString('hex')}:`;
      const b = node(prefix);
      expect(await b.bus.whenUp(10_000)).toBe(true);
      const heard: unknown[] = [];
      b.bus.on('TASK_EVENTS', (events) => heard.push(events));
      b.bus.on('TASK_CANCEL', (ids) => heard.push(ids));
      const stranger = new Redis(redis.url);
      try {
        // A node before the v2 wire: bare payloads on <prefix><topic>; and junk on the v2 channels.
        await stranger.publish(`${prefix}TASK_EVENTS`, JSON.stringify([ended('old-format')]));
        await stranger.publish(`${prefix}v2:TASK_EVENTS`, JSON.stringify([ended('no-envelope')]));
        await stranger.publish(`${prefix}v2:TASK_EVENTS`, 'not json');
        await stranger.publish(`${prefix}v2:TASK_CANCEL`, JSON.stringify({ o: 'someone', d: ['enveloped'] }));
      } finally {
        stranger.disconnect();
      }
      await waitFor('the enveloped one arrives', () => heard.length >= 1);
      await settle();
      expect(heard).toEqual([['enveloped']]);
      expect(b.logs.filter((l) => l.startsWith('warn pub/sub: dropped a message'))).toHaveLength(2);
    });

    it('starts without Redis, reports it down, and connects when it appears', { timeout: 60_000 }, async () => {
      const later = await startRedis({ running: false });
      try {
        const a = makeNode(later.url, 'late:');
        nodes.push(a);
        expect(await a.bus.whenUp(500)).toBe(false);
        await waitFor('down', () => a.bus.health().state === 'down');
        expect(a.bus.health().error).toMatch(/ECONNREFUSED/);
        const own: string[][] = [];
        a.bus.on('TASK_CANCEL', (ids) => own.push(ids));
        a.bus.pubsub.publish('TASK_CANCEL', ['local']);
        expect(own).toEqual([['local']]);
        await later.start();
        expect(await a.bus.whenUp(15_000)).toBe(true);
        expect(a.logs.filter((l) => l.startsWith('warn pub/sub down'))).toHaveLength(1);
      } finally {
        await later.stop();
      }
    });
  });
} else if (servicesRequired) {
  describe('event bus through a Redis outage', () => {
    it('runs (SPINDLE_REQUIRE_SERVICES=1)', () => {
      throw new Error('redis-server is not on the PATH: the Redis outage tests cannot run');
    });
  });
}
