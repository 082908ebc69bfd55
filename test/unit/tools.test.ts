// Tool threads (src/runtime/tools.ts): order, concurrency, deadlines, deaths, heap limits, close.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ToolFailure, ToolPool } from '../../src/runtime/tools.js';

/** A tool that answers `{ at, tid }` after `ms`; `hang` never answers, `exit` exits, `grow` fills its heap. */
const TOOL = `
const { parentPort, threadId } = require('node:worker_threads');
parentPort.on('message', ({ id, req }) => {
  const at = Date.now();
  if (req.op === 'exit') process.exit(3);
  if (req.op === 'grow') { const keep = []; for (;;) keep.push(new Array(1e6).fill(at)); }
  if (req.op === 'hang') return;
  setTimeout(() => parentPort.postMessage({ id, res: { at, tid: threadId } }), req.ms ?? 0);
});`;

type Req = { op?: 'exit' | 'grow' | 'hang'; ms?: number };
type Res = { at: number; tid: number };

const pool = (size: number, timeoutMs = 5_000, heapMb?: number) =>
  new ToolPool<Req, Res>({
    start: () => new Worker(TOOL, { eval: true, resourceLimits: heapMb ? { maxOldGenerationSizeMb: heapMb } : undefined }),
    size,
    timeoutMs,
    idleMs: 60_000,
    doing: 'the tool',
  });

describe('ToolPool', () => {
  it('runs one job per thread, at most `size` threads; more jobs wait in order', async () => {
    const one = pool(1);
    const two = pool(2);
    try {
      const serial = await Promise.all([one.run({ ms: 150 }), one.run({ ms: 150 })]);
      expect(serial[1]!.at - serial[0]!.at).toBeGreaterThanOrEqual(140);
      expect(serial[1]!.tid).toBe(serial[0]!.tid); // the thread is kept for the next job
      const parallel = await Promise.all([two.run({ ms: 150 }), two.run({ ms: 150 })]);
      expect(Math.abs(parallel[1]!.at - parallel[0]!.at)).toBeLessThan(140);
      expect(parallel[1]!.tid).not.toBe(parallel[0]!.tid);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('fails a job past its deadline, a job whose thread exits, and one past the heap limit; the next job runs in a fresh thread', async () => {
    const p = pool(1, 300);
    const small = pool(1, 30_000, 16);
    try {
      await expect(p.run({ op: 'hang' })).rejects.toThrow(new ToolFailure('the tool took longer than 300 ms'));
      await expect(p.run({ op: 'exit' })).rejects.toThrow('the tool stopped (its thread exited with code 3)');
      await expect(p.run({ ms: 1 })).resolves.toMatchObject({ tid: expect.any(Number) });
      await expect(small.run({ op: 'grow' })).rejects.toThrow(/the tool failed: .*memory/i);
      await expect(small.run({ ms: 1 })).resolves.toMatchObject({ tid: expect.any(Number) });
    } finally {
      await Promise.all([p.close(), small.close()]);
    }
  });

  it('fails what waits and what runs when closed, and refuses new jobs', async () => {
    const p = pool(1);
    const running = expect(p.run({ op: 'hang' })).rejects.toBeInstanceOf(ToolFailure);
    const waiting = expect(p.run({ ms: 1 })).rejects.toBeInstanceOf(ToolFailure);
    await p.close();
    await Promise.all([running, waiting]);
    await expect(p.run({ ms: 1 })).rejects.toThrow('the tool stopped: closing');
  });
});
