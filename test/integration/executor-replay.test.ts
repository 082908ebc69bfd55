/**
 * What the event bus replays after a pub/sub outage, read from a real store: the ends of the tasks
 * that finished in the window, each once, in pages, and nothing else (not the unfinished, not a
 * task retried since, not what ended outside the window).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finishedEvents } from '../../src/executor/replay.js';
import type { TaskEvent } from '../../src/executor/types.js';
import { DEFAULT_TENANT_ID, type NewTask, type Store, type TaskRow } from '../../src/store/index.js';
import { makeTestStore, registerStubAgent, type TestStore } from '../helpers/store.js';
import { makeAttemptResult } from '../helpers/attempts.js';
import { sleep } from '../helpers/wait.js';

let ts: TestStore;
let store: Store;
let agent: { agentId: string; agentVersionId: string; moduleDigest: string };

beforeAll(async () => {
  ts = await makeTestStore();
  store = ts.store;
  agent = await registerStubAgent(store, 'replayed', 'r');
});
afterAll(async () => ts?.cleanup());

const newTask = (): NewTask => ({
  tenantId: DEFAULT_TENANT_ID,
  ...agent,
  priority: -100,
  stdin: new Uint8Array(),
  args: [],
  env: {},
  filesDigest: null,
  limits: { timeoutMs: 1000, memoryBytes: 65536, maxOutputBytes: 1024 },
  retryPolicy: { maxAttempts: 1, initialBackoffMs: 100, maxBackoffMs: 1000, retryOn: [] },
  deterministic: null,
  idempotencyKey: null,
  runAt: new Date(Date.now() + 3_600_000),
});

async function collect(source: AsyncIterable<TaskEvent[]>) {
  const pages: TaskEvent[][] = [];
  for await (const page of source) pages.push(page);
  return pages;
}

/** The successful end of `task`'s next attempt, run by `node`, finished at `finishedAt`. */
const end = (task: TaskRow, node: string, finishedAt: Date) => makeAttemptResult({ taskId: task.id, n: task.attempts + 1, node, startedAt: finishedAt, finishedAt });

describe('replay source (TaskRepository.finishedBetween)', () => {
  it('yields the ends in the window once each, in pages, and nothing unfinished', async () => {
    const before = (await store.tasks.insertMany([newTask()])).map((r) => r.task);
    await store.tasks.cancel(DEFAULT_TENANT_ID, before[0]!.id);
    await sleep(50); // the window below starts after this end, by the clock

    const since = new Date();
    const inserted = (await store.tasks.insertMany(Array.from({ length: 7 }, newTask))).map((r) => r.task);
    const [stillQueued, retried, ...ended] = inserted;
    for (const t of [retried!, ...ended]) await store.tasks.cancel(DEFAULT_TENANT_ID, t.id);
    await store.tasks.retry(DEFAULT_TENANT_ID, retried!.id);
    const until = new Date(Date.now() + 1_000);

    const pages = await collect(finishedEvents(store.tasks, 2)(since, until));
    const events = pages.flat();
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(events.map((e) => e.taskId).sort()).toEqual(ended.map((t) => t.id).sort());
    expect(new Set(events.map((e) => e.taskId)).size).toBe(events.length);
    for (const e of events) expect(e).toMatchObject({ status: 'CANCELLED', tenantId: DEFAULT_TENANT_ID, agentId: agent.agentId });
    expect(events.map((e) => e.taskId)).not.toContain(stillQueued!.id);

    // The window's ends are bounds: a window that closed before, or opens after, yields nothing of these.
    const earlier = (await collect(finishedEvents(store.tasks)(new Date(since.getTime() - 60_000), new Date(since.getTime() - 1)))).flat();
    expect(earlier.map((e) => e.taskId)).toEqual([before[0]!.id]);
    expect((await collect(finishedEvents(store.tasks)(until, new Date(until.getTime() + 60_000)))).flat()).toEqual([]);
  });

  it("with a node: the ends that node wrote (its last attempt, not a stale one); newest first, in pages, when asked", async () => {
    // A window of its own, a day ahead: finished_at is the writer's clock, here the test's.
    const base = Date.now() + 86_400_000;
    const at = (s: number) => new Date(base + s * 1_000);
    const [a, b, c, d] = (await store.tasks.insertMany(Array.from({ length: 4 }, newTask), { node: 'writer', leaseMs: 60_000 })).map((r) => r.task);
    const [e] = (await store.tasks.insertMany([newTask()], { node: 'other', leaseMs: 60_000 })).map((r) => r.task);
    // d: a late result of 'other' (stale) before the writer's own end.
    expect(await store.tasks.finish([end(d!, 'other', at(1))])).toMatchObject([{ stale: true }]);
    for (const [t, node, s] of [[a, 'writer', 10], [b, 'writer', 20], [e, 'other', 25], [c, 'writer', 30], [d, 'writer', 40]] as const) {
      expect(await store.tasks.finish([end(t!, node, at(s))])).toMatchObject([{ status: 'SUCCEEDED', stale: false }]);
    }
    const ids = (rows: { id: string }[]) => rows.map((r) => r.id);
    const [since, until] = [at(0), at(60)];
    expect(ids(await store.tasks.finishedBetween(since, until, 10))).toEqual(ids([a!, b!, e!, c!, d!]));
    expect(ids(await store.tasks.finishedBetween(since, until, 10, { node: 'writer' }))).toEqual(ids([a!, b!, c!, d!]));
    expect(ids(await store.tasks.finishedBetween(since, until, 10, { node: 'other' }))).toEqual(ids([e!]));
    expect(ids(await store.tasks.finishedBetween(since, until, 10, { node: 'nobody' }))).toEqual([]);
    const newest = await store.tasks.finishedBetween(since, until, 2, { node: 'writer', newestFirst: true });
    expect(ids(newest)).toEqual(ids([d!, c!]));
    expect(newest[0]).toMatchObject({ status: 'SUCCEEDED', attempts: 1, lastOutcome: 'exited', exitCode: 0, finishedAt: at(40) });
    const after = { finishedAt: newest[1]!.finishedAt, id: newest[1]!.id };
    expect(ids(await store.tasks.finishedBetween(since, until, 2, { node: 'writer', newestFirst: true, after }))).toEqual(ids([b!, a!]));
    expect(ids(await store.tasks.finishedBetween(since, at(25), 10, { after: { finishedAt: at(10), id: a!.id } }))).toEqual(ids([b!, e!]));
  });
});
