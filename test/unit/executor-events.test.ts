import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeEventBus, wireSerializer } from '../../src/executor/events.js';
import { reconnectDelayMs } from '../../src/executor/redis-link.js';
import type { TaskEvent, TaskOutputEvent } from '../../src/executor/types.js';
import { waitFor } from '../helpers/wait.js';

const event = (taskId: string): TaskEvent => ({
  taskId,
  tenantId: 't',
  agentId: 'a',
  status: 'SUCCEEDED',
  attempt: 1,
  outcome: 'exited',
  exitCode: 0,
  at: new Date('2026-01-02T03:04:05.678Z'),
});

describe('wireSerializer', () => {
  it('round-trips Date, Uint8Array and bigint, nested', () => {
    const msg = {
      at: new Date(1_700_000_000_123),
      data: new Uint8Array([0, 1, 254, 255]),
      view: new Uint8Array([9, 8, 7, 6]).subarray(1, 3),
      fuel: 12345678901234567890n,
      list: [{ when: new Date(0) }, null, 'x', 3],
    };
    const back = wireSerializer.parse(wireSerializer.stringify(msg)) as typeof msg;
    expect(back.at).toBeInstanceOf(Date);
    expect(back.at.getTime()).toBe(1_700_000_000_123);
    expect(back.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(back.data)).toEqual([0, 1, 254, 255]);
    expect(Array.from(back.view)).toEqual([8, 7]);
    expect(back.fuel).toBe(12345678901234567890n);
    expect((back.list[0] as { when: Date }).when.getTime()).toBe(0);
    expect(back.list.slice(1)).toEqual([null, 'x', 3]);
  });

  it('keeps plain JSON plain', () => {
    expect(wireSerializer.stringify({ a: 1, b: 'two' })).toBe('{"a":1,"b":"two"}');
  });
});

describe('in-process event bus', () => {
  it('delivers batches to pubsub subscribers and direct listeners', async () => {
    const bus = makeEventBus();
    expect(bus.kind).toBe('memory');
    const seen: string[] = [];
    const off = bus.on('TASK_EVENTS', (events) => seen.push(...events.map((e) => e.taskId)));
    const iterator = bus.pubsub.subscribe('TASK_EVENTS')[Symbol.asyncIterator]();
    const next = iterator.next();
    bus.pubsub.publish('TASK_EVENTS', [event('1'), event('2')]);
    expect((await next).value.map((e: TaskEvent) => e.taskId)).toEqual(['1', '2']);
    expect(seen).toEqual(['1', '2']);
    off();
    bus.pubsub.publish('TASK_EVENTS', [event('3')]);
    expect(seen).toEqual(['1', '2']);
    await iterator.return?.();
    await bus.close();
  });

  it('routes TASK_OUTPUT by task id', async () => {
    const bus = makeEventBus();
    const iterator = bus.pubsub.subscribe('TASK_OUTPUT', 'task-b')[Symbol.asyncIterator]();
    const next = iterator.next();
    const chunk = (taskId: string): TaskOutputEvent => ({ taskId, tenantId: 't', attempt: 1, stream: 'stdout', offset: 0, data: new Uint8Array([104, 105]) });
    bus.pubsub.publish('TASK_OUTPUT', 'task-a', chunk('task-a'));
    bus.pubsub.publish('TASK_OUTPUT', 'task-b', chunk('task-b'));
    expect((await next).value.taskId).toBe('task-b');
    await iterator.return?.();
  });

  it("hands a task's subscribers only its own events and deletion, one event per batch", async () => {
    const bus = makeEventBus();
    const a = bus.pubsub.subscribe('TASK_EVENTS_OF', 'a')[Symbol.asyncIterator]();
    const b = bus.pubsub.subscribe('TASK_EVENTS_OF', 'b')[Symbol.asyncIterator]();
    const gone = bus.pubsub.subscribe('TASK_DELETED_OF', 'b')[Symbol.asyncIterator]();
    const [a1, b1, gone1] = [a.next(), b.next(), gone.next()];
    bus.pubsub.publish('TASK_EVENTS', [event('c'), event('a'), event('b'), { ...event('a'), status: 'FAILED' }]);
    bus.pubsub.publish('TASK_DELETED', ['a', 'c', 'b']);
    expect((await a1).value).toEqual([event('a')]);
    expect((await a.next()).value).toEqual([{ ...event('a'), status: 'FAILED' }]);
    expect((await b1).value).toEqual([event('b')]);
    expect((await gone1).value).toEqual(['b']);
    await Promise.all([a.return?.(), b.return?.(), gone.return?.()]);
    await bus.close();
  });

  it('a throwing listener is reported and does not stop the others', () => {
    const errors: string[] = [];
    const bus = makeEventBus({ onListenerError: (_err, topic) => errors.push(topic) });
    const got: string[][] = [];
    bus.on('TASK_CANCEL', () => {
      throw new Error('boom');
    });
    bus.on('TASK_CANCEL', (ids) => got.push(ids));
    expect(() => bus.pubsub.publish('TASK_CANCEL', ['x'])).not.toThrow();
    expect(got).toEqual([['x']]);
    expect(errors).toEqual(['TASK_CANCEL']);
  });
});

describe.runIf(process.env.REDIS_URL)('per-task topics across nodes (REDIS_URL)', () => {
  it("a node whose only listener is one task's hears that task's events from another node", async () => {
    const prefix = `test-${randomBytes(4).toString('hex')}:`;
    const [a, b] = [makeEventBus({ redisUrl: process.env.REDIS_URL, channelPrefix: prefix }), makeEventBus({ redisUrl: process.env.REDIS_URL, channelPrefix: prefix })];
    try {
      expect(await a.whenUp(5_000)).toBe(true);
      expect(await b.whenUp(5_000)).toBe(true);
      const it = b.pubsub.subscribe('TASK_EVENTS_OF', 'x')[Symbol.asyncIterator]();
      const got = it.next();
      let received = false;
      void got.then(() => (received = true));
      // Published until B's Redis subscription (made for TASK_EVENTS) is in place.
      await waitFor('B to hear task x', () => {
        a.pubsub.publish('TASK_EVENTS', [event('y'), event('x')]);
        return received;
      });
      expect((await got).value).toEqual([event('x')]);
      await it.return?.();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('Redis reconnect backoff', () => {
  it('doubles from 200 ms to a 2 s cap and keeps trying forever', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(reconnectDelayMs)).toEqual([200, 400, 800, 1600, 2000, 2000, 2000]);
    expect(reconnectDelayMs(1_000_000)).toBe(2000);
  });
});

describe('in-process bus health', () => {
  it('is always up, drops nothing, and is up at once', async () => {
    const bus = makeEventBus();
    expect(bus.health()).toMatchObject({ kind: 'memory', state: 'up', droppedPublishes: 0 });
    expect(await bus.whenUp(0)).toBe(true);
  });
});
