import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveOptions } from '../../src/executor/options.js';
import { attemptResult, expiredLeaseResult, taskEvent } from '../../src/executor/results.js';
import { makeWakeup } from '../../src/executor/wakeup.js';
import type { ExecutorOptions } from '../../src/executor/types.js';
import { emptyOutcome, type RunOutcome, type Runtime } from '../../src/runtime/index.js';
import type { Store, TaskRow } from '../../src/store/types.js';
import { makeRunOutcome } from '../helpers/attempts.js';

const at = new Date('2026-11-21T12:00:00Z');
const task = (over: Partial<TaskRow> = {}): TaskRow => ({
  id: 't1', tenantId: 'ten', agentId: 'ag', agentVersionId: 'av', moduleDigest: 'd', status: 'RUNNING', priority: 0,
  stdin: new Uint8Array(), args: [], env: {}, filesDigest: null,
  limits: { timeoutMs: 1_000, memoryBytes: 1 << 20, maxOutputBytes: 1_024 },
  retryPolicy: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 1_000, retryOn: ['timeout', 'host_error'] },
  deterministic: null, idempotencyKey: null, traceContext: null, wasi: null, attempts: 1, attemptBase: 0, runAt: at, queuedAt: at, leaseOwner: 'me', leaseExpiresAt: at,
  lastOutcome: null, exitCode: null, createdAt: at, updatedAt: at, startedAt: at, finishedAt: null,
  ...over,
});
const exited = (code: number) => makeRunOutcome({ exitCode: code, runMs: 3, compileMs: 1, memoryPeakBytes: 65536 });
const ctx = { node: 'me', startedAt: at, finishedAt: new Date(at.getTime() + 10), files: { meta: [], digest: null }, random: () => 0.999_999 };

describe('attemptResult', () => {
  it('records the outcome as attempt n and derives the next state', () => {
    const r = attemptResult(exited(0), { ...ctx, task: task({ status: 'QUEUED', attempts: 0 }), n: 1 });
    expect(r).toMatchObject({ taskId: 't1', n: 1, node: 'me', outcome: 'exited', exitCode: 0, error: null, fuelUsed: null, next: { status: 'SUCCEEDED' } });
  });

  it('counts only the attempts of the current budget (after a manual retry)', () => {
    const retryable = emptyOutcome('timeout', 'too slow');
    // attempts 4, base 3: the first attempt of the new budget → retry after the initial backoff.
    const r = attemptResult(retryable, { ...ctx, task: task({ attempts: 3, attemptBase: 3 }), n: 4 });
    expect(r.n).toBe(4);
    expect(r.next).toEqual({ status: 'RETRYING', runAt: new Date(ctx.finishedAt.getTime() + 100) });
    expect(attemptResult(retryable, { ...ctx, task: task({ attempts: 5, attemptBase: 3 }), n: 6 }).next).toEqual({ status: 'FAILED' });
  });

  it('keeps trap details and files', () => {
    const trapped: RunOutcome = { ...emptyOutcome('trap', 'boom'), trap: { code: 'unreachable', message: 'unreachable executed' }, fuelUsed: 42n };
    const r = attemptResult(trapped, { ...ctx, task: task(), n: 1, files: { meta: [{ path: '/a', size: 1 }], digest: 'abc' } });
    expect(r).toMatchObject({ trapCode: 'unreachable', trapMessage: 'unreachable executed', fuelUsed: 42n, files: [{ path: '/a', size: 1 }], filesDigest: 'abc' });
  });
});

describe('expiredLeaseResult', () => {
  it('records host_error for the dead node\'s attempt and applies the retry policy', () => {
    const r = expiredLeaseResult(task({ attempts: 2 }), null, 'me', at, () => 0);
    expect(r).toMatchObject({ n: 2, node: 'me', outcome: 'host_error', next: { status: 'RETRYING', runAt: at } });
    expect(r.error).toMatch(/^lease expired: .* stopped heartbeating$/);
    expect(expiredLeaseResult(task({ attempts: 3 }), null, 'me', at, Math.random).next).toEqual({ status: 'FAILED' });
    // The node that lost the lease is named (the row's leaseOwner is already the new owner).
    expect(expiredLeaseResult(task({ leaseOwner: 'me' }), 'node-x', 'me', at, Math.random).error).toBe('lease expired: node node-x stopped heartbeating');
  });
});

describe('taskEvent', () => {
  it('carries outcome and exit code only once an attempt ended', () => {
    expect(taskEvent(task({ status: 'RUNNING', lastOutcome: 'timeout', exitCode: null }))).toMatchObject({ status: 'RUNNING', outcome: null, attempt: 1, at });
    expect(taskEvent(task({ status: 'FAILED', lastOutcome: 'exited', exitCode: 3 }))).toMatchObject({ status: 'FAILED', outcome: 'exited', exitCode: 3 });
  });
});

describe('resolveOptions', () => {
  const base = {
    store: { kind: 'postgres' } as Store,
    runtime: { stats: () => ({ workers: 3 }) } as unknown as Runtime,
    bus: {} as ExecutorOptions['bus'],
    node: 'n1',
  };

  it('fills every default', () => {
    const o = resolveOptions(base);
    expect(o).toMatchObject({ workers: 3, concurrency: 384, claimBatch: 384, leaseMs: 30_000, heartbeatMs: 7_500, pollMs: 1_000, recoverMs: 15_000, finishBatchMs: 0, finishBatchMax: 500, writeParallel: 2 });
    expect(Object.isFrozen(o)).toBe(true);
    expect(resolveOptions({ ...base, store: { kind: 'pglite' } as Store }).writeParallel).toBe(1);
  });

  it('names the bad option', () => {
    expect(() => resolveOptions({ ...base, concurrency: 0 })).toThrow(/concurrency must be a positive integer/);
    expect(() => resolveOptions({ ...base, leaseMs: 1.5 })).toThrow(/leaseMs/);
    expect(() => resolveOptions({ ...base, finishBatchMs: -1 })).toThrow(/finishBatchMs/);
    expect(() => resolveOptions({ ...base, node: '' })).toThrow(/node/);
    expect(() => resolveOptions({ ...base, leaseMs: 3_000, heartbeatMs: 1_000 })).toThrow(/heartbeatMs must be below leaseMs \/ 3/);
  });
});

describe('makeWakeup', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('fires once at the earliest requested time', async () => {
    let fired = 0;
    const w = makeWakeup(() => fired++);
    w.at(new Date(Date.now() + 200));
    w.at(new Date(Date.now() + 20));
    w.at(new Date(Date.now() + 100)); // later than the armed time: ignored
    await vi.advanceTimersByTimeAsync(19);
    expect(fired).toBe(0);
    await vi.advanceTimersByTimeAsync(41);
    expect(fired).toBe(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(fired).toBe(1);
    w.at(new Date(Date.now() - 1_000)); // in the past: fires right away
    await vi.advanceTimersByTimeAsync(20);
    expect(fired).toBe(2);
    w.clear();
    w.at(new Date());
    await vi.advanceTimersByTimeAsync(20);
    expect(fired).toBe(2);
  });
});
