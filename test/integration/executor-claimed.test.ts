/**
 * Claimed is not running: a node prefetches more tasks than it has workers (they are leased to it,
 * still QUEUED), and a task becomes RUNNING when a worker takes it up, in a write that happens
 * anyway (an early heartbeat for long runs, the finish for short ones). Against the real store
 * (PGlite, or PostgreSQL with DATABASE_URL) and runtime.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TaskRow } from '../../src/store/types.js';
import { makeHarness, newTask, tenantId, type Harness } from '../helpers/executor.js';
import { sleep, waitFor } from '../helpers/wait.js';

let h: Harness;

beforeAll(async () => {
  h = await makeHarness({ concurrency: 16 }, { workers: 2 });
});
afterAll(async () => {
  await h?.close();
});

const terminal = (r: TaskRow) => r.status === 'SUCCEEDED' || r.status === 'FAILED' || r.status === 'CANCELLED';

describe('claimed is not running', () => {
  it('2 workers, 10 long tasks: never more than 2 RUNNING in the database, the rest QUEUED and leased; RUNNING soon after a worker begins', { timeout: 120_000 }, async () => {
    const spin = await h.agent('spin_for_ms');
    const hello = await h.agent('hello');
    const tasks = await h.submit(Array.from({ length: 10 }, () => newTask(spin, { args: ['700'] })));
    const ids = tasks.map((t) => t.id);

    let peakRunning = 0;
    let peakLeased = 0;
    let samples = 0;
    const firstSeenRunning = new Map<string, number>();
    let shortTask: TaskRow | undefined;
    for (const until = Date.now() + 90_000; Date.now() < until; ) {
      const rows = await h.store.tasks.getMany(ids);
      const at = Date.now();
      samples++;
      const running = rows.filter((r) => r.status === 'RUNNING');
      peakRunning = Math.max(peakRunning, running.length);
      peakLeased = Math.max(peakLeased, rows.filter((r) => !terminal(r) && r.leaseOwner === 'node-a').length);
      for (const r of running) if (!firstSeenRunning.has(r.id)) firstSeenRunning.set(r.id, at);
      // Waiting, unfinished tasks are QUEUED; RUNNING ones have their attempt counted.
      for (const r of rows) {
        if (r.status === 'QUEUED') expect(r.attempts).toBe(0);
        if (r.status === 'RUNNING') expect(r.attempts).toBe(1);
      }
      // A short task submitted while the node is busy goes through the queue like the rest.
      if (samples === 5) [shortTask] = await h.submit([newTask(hello)]);
      if (rows.every(terminal)) break;
      await sleep(10); // sampling pace
    }
    const rows = await h.store.tasks.getMany(ids);
    expect(rows.map((r) => [r.status, r.attempts])).toEqual(Array(10).fill(['SUCCEEDED', 1]));
    expect(peakRunning).toBeLessThanOrEqual(2);
    expect(peakRunning).toBe(2);
    // The node did prefetch beyond its workers: claimed tasks, leased but not RUNNING.
    expect(peakLeased).toBeGreaterThan(2);

    for (const id of ids) {
      const [attempt, ...more] = await h.store.tasks.attempts(id);
      expect(more).toEqual([]);
      // Seen RUNNING in the database well before the run ended, and soon after a worker began it.
      const seen = firstSeenRunning.get(id);
      expect(seen, `task ${id} never seen RUNNING`).toBeDefined();
      expect(seen!).toBeLessThan(attempt!.finishedAt.getTime());
      expect(seen! - attempt!.startedAt.getTime()).toBeLessThan(1_000);
      expect(h.log.statuses(id)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
      const running = h.log.of(id).find((e) => e.status === 'RUNNING')!;
      expect(running.attempt).toBe(1);
    }

    expect(shortTask).toBeDefined();
    await h.log.status(shortTask!.id, 'SUCCEEDED');
    expect(h.log.statuses(shortTask!.id)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    expect(await h.store.tasks.get(tenantId, shortTask!.id)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
  });

  it('a cancelled task that no worker had begun records no attempt', async () => {
    const spin = await h.agent('spin_for_ms');
    const tasks = await h.submit(Array.from({ length: 4 }, () => newTask(spin, { args: ['1000'] })));
    // Wait until all four are this node's: two running (marked so: a run that began is QUEUED in the
    // database until its marking, ~100 ms), two prefetched (claimed) behind them for ~1 s.
    const rows = await waitFor('four tasks held, two running and two claimed', async () => {
      const rows = await h.store.tasks.getMany(tasks.map((t) => t.id));
      const held = rows.filter((r) => r.leaseOwner === 'node-a');
      return held.length === 4 && held.filter((r) => r.status === 'RUNNING').length === 2 && rows;
    });
    const claimed = rows.find((r) => r.status === 'QUEUED' && r.leaseOwner === 'node-a');
    expect(claimed, 'a claimed, not yet running task').toBeDefined();
    expect(await h.executor.cancel(tenantId, claimed!.id)).toMatchObject({ status: 'CANCELLED', attempts: 0 });
    for (const t of tasks) if (t.id !== claimed!.id) await h.log.status(t.id, 'SUCCEEDED');
    await sleep(100); // and nothing comes for the cancelled one
    expect(await h.store.tasks.attempts(claimed!.id)).toEqual([]);
    expect(await h.store.tasks.get(tenantId, claimed!.id)).toMatchObject({ status: 'CANCELLED', attempts: 0 });
    expect(h.log.statuses(claimed!.id)).toEqual(['QUEUED', 'CANCELLED']);
  });

  it('an idle node writes nothing for short runs once their results are in (no marking, no heartbeat)', async () => {
    // Claim-on-insert without waiting for the runs: their results arrive while the rows are being
    // written, so each goes claimed → SUCCEEDED in its own finish. Nothing is left to mark after.
    const x = await makeHarness({ concurrency: 4, pollMs: 60_000, settleOnInsertMs: 0, heartbeatMs: 100 });
    try {
      const hello = await x.agent('hello');
      for (let i = 0; i < 20; i++) {
        const [t] = await x.submit([newTask(hello)]);
        await x.log.status(t!.id, 'SUCCEEDED');
        expect(x.log.statuses(t!.id)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
      }
      expect(x.executor.running()).toBe(0);
      const heartbeat = vi.spyOn(x.store.tasks, 'heartbeat');
      await sleep(500); // an idle node does not heartbeat: half a second of nothing
      expect(heartbeat).not.toHaveBeenCalled();
    } finally {
      await x.close();
    }
  });
});
