/**
 * The event bus across nodes. With REDIS_URL: two buses (two nodes) over Redis, payloads go
 * through JSON and must come back typed. Without it: the in-process bus, same assertions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventBus, NodeSecondSummary, TaskEvent, TaskOutputEvent } from '../../src/executor/types.js';
import { makeTestBus, redisUrl } from '../helpers/executor.js';
import { sleep, waitFor } from '../helpers/wait.js';

let nodeA: EventBus;
let nodeB: EventBus;

beforeAll(async () => {
  const prefix = `test-bus-${process.pid}-${Date.now()}:`;
  nodeA = makeTestBus(prefix);
  nodeB = redisUrl ? makeTestBus(prefix) : nodeA;
  // Connected before the first test: on a busy machine the first SUBSCRIBE can take a while.
  expect(await nodeA.whenUp(10_000)).toBe(true);
  expect(await nodeB.whenUp(10_000)).toBe(true);
});
afterAll(async () => {
  await nodeA?.close();
  if (nodeB !== nodeA) await nodeB?.close();
});

const first = async <T>(iterable: AsyncIterable<T>, publish: () => void): Promise<T> => {
  const iterator = iterable[Symbol.asyncIterator]();
  const next = iterator.next();
  // Redis SUBSCRIBE is asynchronous: give it a moment before publishing.
  if (redisUrl) await sleep(100);
  publish();
  const { value } = await next;
  await iterator.return?.();
  return value as T;
};

describe(`event bus (${redisUrl ? 'Redis' : 'in-process'})`, () => {
  it(`reports its kind`, () => {
    expect(nodeA.kind).toBe(redisUrl ? 'redis' : 'memory');
  });

  it('buses with different channel prefixes do not hear each other', async () => {
    const other = makeTestBus();
    const heard: string[][] = [];
    const off = other.on('TASK_CANCEL', (ids) => heard.push(ids));
    const mine: string[][] = [];
    const offMine = nodeB.on('TASK_CANCEL', (ids) => mine.push(ids));
    if (redisUrl) await sleep(100); // Redis SUBSCRIBE is asynchronous
    nodeA.pubsub.publish('TASK_CANCEL', ['only-for-a']);
    await waitFor('node B to hear it', () => mine.length > 0, { timeoutMs: 5_000 });
    await sleep(50); // and the other prefix does not hear it within a moment more
    off();
    offMine();
    await other.close();
    expect(mine).toEqual([['only-for-a']]);
    expect(heard).toEqual([]);
  });

  it('a subscriber on node B sees task events published on node A, Dates intact', async () => {
    const event: TaskEvent = {
      taskId: 't1', tenantId: 'x', agentId: 'a', status: 'SUCCEEDED', attempt: 2, outcome: 'exited', exitCode: 0,
      at: new Date('2026-11-21T12:00:00.123Z'),
    };
    const got = await first(nodeB.pubsub.subscribe('TASK_EVENTS'), () => nodeA.pubsub.publish('TASK_EVENTS', [event]));
    expect(got).toEqual([event]);
    expect(got[0]!.at).toBeInstanceOf(Date);
  });

  it('output chunks keep their bytes and are routed by task id', async () => {
    const chunk: TaskOutputEvent = { taskId: 'task-7', tenantId: 'x', attempt: 1, stream: 'stderr', offset: 12, data: new Uint8Array([0, 10, 200, 255]) };
    const got = await first(nodeB.pubsub.subscribe('TASK_OUTPUT', 'task-7'), () => {
      nodeA.pubsub.publish('TASK_OUTPUT', 'task-6', { ...chunk, taskId: 'task-6' });
      nodeA.pubsub.publish('TASK_OUTPUT', 'task-7', chunk);
    });
    expect(got.taskId).toBe('task-7');
    expect(got.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(got.data)).toEqual([0, 10, 200, 255]);
    expect(got.offset).toBe(12);
  });

  it('direct listeners hear cancels and stats from other nodes', async () => {
    const cancels: string[][] = [];
    const stats: NodeSecondSummary[] = [];
    const offs = [nodeB.on('TASK_CANCEL', (ids) => cancels.push(ids)), nodeB.on('NODE_STATS', (s) => stats.push(s))];
    if (redisUrl) await sleep(100); // Redis SUBSCRIBE is asynchronous
    nodeA.pubsub.publish('TASK_CANCEL', ['a', 'b']);
    const summary: NodeSecondSummary = { node: 'node-a', second: 1_800_000_000, finished: 3, latencyBuckets: [1, 2], workers: 2, busyWorkers: 1 };
    nodeA.pubsub.publish('NODE_STATS', summary);
    await waitFor('both messages', () => cancels.length > 0 && stats.length > 0, { timeoutMs: 5_000 });
    for (const off of offs) off();
    expect(cancels).toEqual([['a', 'b']]);
    expect(stats).toEqual([summary]);
  });
});
