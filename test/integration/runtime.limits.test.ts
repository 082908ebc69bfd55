/**
 * Every limit, at and beyond: wall-clock timeout (guest code, host calls, start function),
 * cancellation, memory cap, table growth, output caps, fuel, live output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hardOutputBytes, makeRuntime } from '../../src/runtime/index.js';
import type { OutputChunk, Runtime } from '../../src/runtime/types.js';
import { runRequest, sha256Hex, text, wasmRef, watRef, watToWasm } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/wait.js';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime({ workers: 2, outputFlushMs: 10 });
});
afterAll(async () => {
  await rt?.close();
});

const MiB = 1 << 20;

describe('timeout', () => {
  it('stops a spinning guest at its timeout and serves the next task at once', async () => {
    const replacedBefore = rt.stats().workersReplaced;
    const o = await rt.run(runRequest(await watRef('infinite_loop'), { limits: { timeoutMs: 100 } }));
    expect(o).toMatchObject({ kind: 'timeout', exitCode: null });
    expect(o.runMs).toBeGreaterThanOrEqual(99);
    expect(o.error).toContain('100 ms');
    // The next task gets a warm worker: it finishes well inside its own 100 ms deadline.
    const next = await rt.run(runRequest(await watRef('hello'), { limits: { timeoutMs: 100 } }));
    expect(next).toMatchObject({ kind: 'exited', exitCode: 0 });
    expect(rt.stats().workersReplaced).toBe(replacedBefore + 1);
  });

  it('stops a guest that loops through host calls', async () => {
    const o = await rt.run(runRequest(await watRef('host_call_loop'), { limits: { timeoutMs: 100 } }));
    expect(o.kind).toBe('timeout');
  });

  it('stops a guest that spins in its start function', async () => {
    const o = await rt.run(runRequest(await watRef('start_loop'), { limits: { timeoutMs: 100 } }));
    expect(o.kind).toBe('timeout');
  });

  it('lets a run that fits finish and stops the same run with a shorter deadline', async () => {
    const ticker = await watRef('ticker'); // ~200 ms of work
    const fits = await rt.run(runRequest(ticker, { limits: { timeoutMs: 5_000 } }));
    expect(fits).toMatchObject({ kind: 'exited', exitCode: 0 });
    const cut = await rt.run(runRequest(ticker, { limits: { timeoutMs: 150 } }));
    expect(cut.kind).toBe('timeout');
    // What was streamed before the deadline is kept (writes at 0, 40, 80 ms; outputFlushMs 10).
    expect(cut.stdout.length).toBeGreaterThan(0);
    expect(text(cut.stdout)).toMatch(/^(tick\n)+$/);
  });
});

describe('cancel', () => {
  it('cancels before start', async () => {
    const ac = new AbortController();
    ac.abort();
    const o = await rt.run(runRequest(await watRef('hello')), ac.signal);
    expect(o.kind).toBe('cancelled');
  });

  it('cancels a running guest by terminating its worker', async () => {
    const ac = new AbortController();
    const pending = rt.run(runRequest(await watRef('infinite_loop'), { limits: { timeoutMs: 10_000 } }), ac.signal);
    setTimeout(() => ac.abort(), 50);
    const o = await pending;
    expect(o.kind).toBe('cancelled');
    expect(o.runMs).toBeLessThan(10_000);
  });

  it('cancels a queued run without touching the running one', async () => {
    const single = makeRuntime({ workers: 1 });
    try {
      const loop = single.run(runRequest(await watRef('infinite_loop'), { limits: { timeoutMs: 300 } }));
      await waitFor('the loop to run', () => single.stats().busy > 0, { everyMs: 5 });
      const ac = new AbortController();
      const queued = single.run(runRequest(await watRef('hello')), ac.signal);
      await waitFor('the second run to queue', () => single.stats().queued === 1);
      ac.abort();
      expect((await queued).kind).toBe('cancelled');
      expect(single.stats().queued).toBe(0);
      expect((await loop).kind).toBe('timeout');
    } finally {
      await single.close();
    }
  });
});

describe('memory', () => {
  it('stops a memory bomb at the cap: memory_limit, never above it', async () => {
    const o = await rt.run(runRequest(await watRef('memory_bomb'), { limits: { memoryBytes: 16 * MiB } }));
    expect(o.kind).toBe('memory_limit');
    expect(o.trap?.code).toBe('unreachable');
    expect(o.memoryPeakBytes).toBeLessThanOrEqual(16 * MiB);
    expect(o.memoryPeakBytes).toBeGreaterThan(15 * MiB);
  });

  it('malloc_until_null under 16 MiB: memory_limit with the exit code the guest chose', async () => {
    const o = await rt.run(runRequest(await wasmRef('malloc_until_null'), { limits: { memoryBytes: 16 * MiB } }));
    expect(o).toMatchObject({ kind: 'memory_limit', exitCode: 3 });
    const got = Number(/allocated (\d+) MiB/.exec(text(o.stdout))?.[1]);
    expect(got).toBeGreaterThan(10);
    expect(got).toBeLessThan(16);
    expect(o.memoryPeakBytes).toBeLessThanOrEqual(16 * MiB);
  });

  it('allows growth up to the cap exactly, refuses one page more', async () => {
    const grow = await watRef('grow'); // grows from 1 to 4 pages, ignores failure, exits 0
    const at = await rt.run(runRequest(grow, { limits: { memoryBytes: 4 * 65536 } }));
    expect(at).toMatchObject({ kind: 'exited', exitCode: 0, memoryPeakBytes: 4 * 65536 });
    // A guest that copes with a failed grow is not failed for it.
    const below = await rt.run(runRequest(grow, { limits: { memoryBytes: 4 * 65536 - 1 } }));
    expect(below).toMatchObject({ kind: 'exited', exitCode: 0, memoryPeakBytes: 65536 });
  });

  it('refuses to start a module whose initial memory exceeds the cap', async () => {
    const big = await watRef('big_initial_memory'); // 512 pages = 32 MiB
    const over = await rt.run(runRequest(big, { limits: { memoryBytes: 16 * MiB } }));
    expect(over.kind).toBe('memory_limit');
    expect(over.error).toContain('initial memory');
    const at = await rt.run(runRequest(big, { limits: { memoryBytes: 32 * MiB } }));
    expect(at).toMatchObject({ kind: 'exited', exitCode: 0, memoryPeakBytes: 32 * MiB });
  });

  it('keeps a module below its own declared maximum', async () => {
    const wasm = await watToWasm(`(module (memory 1 2)
      (func (export "_start") (if (i32.ne (memory.grow (i32.const 2)) (i32.const -1)) (then unreachable))))`);
    const o = await rt.run(runRequest({ digest: sha256Hex(wasm), bytes: wasm }, { limits: { memoryBytes: 64 * MiB } }));
    expect(o).toMatchObject({ kind: 'exited', exitCode: 0, memoryPeakBytes: 65536 });
  });
});

describe('tables', () => {
  const ref = async (source: string) => {
    const wasm = await watToWasm(source, 'tables.wat', { reference_types: true });
    return { digest: sha256Hex(wasm), bytes: wasm };
  };

  it('lets a table grow to MAX_TABLE_ELEMENTS exactly, and answers -1 one element beyond', async () => {
    const small = makeRuntime({ workers: 1, maxTableElements: 1000 });
    try {
      // Exits 0 when growing to the limit succeeds and one more fails; traps otherwise.
      const o = await small.run(runRequest(await ref(`(module (table $t 10 funcref)
        (func (export "_start")
          (if (i32.ne (table.grow $t (ref.null func) (i32.const 990)) (i32.const 10)) (then unreachable))
          (if (i32.ne (table.grow $t (ref.null func) (i32.const 1)) (i32.const -1)) (then unreachable))))`)));
      expect(o).toMatchObject({ kind: 'exited', exitCode: 0 });
    } finally {
      await small.close();
    }
  });

  it('ends a guest growing twenty tables by V8\'s maximum each as a clean exit, and the runtime lives on', async () => {
    // Before tables had a maximum this took the whole process down: each grown table lives on the
    // worker's JavaScript heap, and V8 gave up with "Reached heap limit" (a fatal error, not the
    // worker's resourceLimits). Now every grow past the module's share answers -1.
    const n = 20;
    const tables = Array.from({ length: n }, (_, i) => `(table $t${i} 0 funcref)`).join(' ');
    const grows = Array.from({ length: n }, (_, i) => `(local.set $failed (i32.add (local.get $failed) (i32.eq (table.grow $t${i} (ref.null func) (i32.const 10000000)) (i32.const -1))))`).join(' ');
    const o = await rt.run(runRequest(await ref(`(module
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      ${tables}
      (func (export "_start") (local $failed i32) ${grows} (call $exit (local.get $failed))))`)));
    expect(o).toMatchObject({ kind: 'exited', exitCode: n });
    const next = await rt.run(runRequest(await watRef('hello')));
    expect(next).toMatchObject({ kind: 'exited', exitCode: 0 });
  });
});

describe('output', () => {
  const max = 1000;

  it('keeps exactly maxOutputBytes per stream without the truncated flag', async () => {
    const o = await rt.run(runRequest(await watRef('write_n'), { args: [String(max), String(max)], limits: { maxOutputBytes: max } }));
    expect(o).toMatchObject({ kind: 'exited', stdoutTruncated: false, stderrTruncated: false });
    expect(text(o.stdout)).toBe('o'.repeat(max));
    expect(text(o.stderr)).toBe('e'.repeat(max));
  });

  it('truncates one byte beyond and flags each stream on its own', async () => {
    const o = await rt.run(runRequest(await watRef('write_n'), { args: [String(max + 1), '10'], limits: { maxOutputBytes: max } }));
    expect(o).toMatchObject({ kind: 'exited', stdoutTruncated: true, stderrTruncated: false });
    expect(o.stdout).toHaveLength(max);
    expect(o.stderr).toHaveLength(10);
  });

  it('lets a guest write up to the hard cap, and stops it past the cap (output_limit)', async () => {
    const hard = hardOutputBytes(max);
    expect(hard).toBe(MiB);
    const at = await rt.run(runRequest(await watRef('write_n'), { args: [String(hard), '0'], limits: { maxOutputBytes: max } }));
    expect(at).toMatchObject({ kind: 'exited', stdoutTruncated: true });
    const beyond = await rt.run(runRequest(await watRef('write_n'), { args: [String(hard), '1'], limits: { maxOutputBytes: max } }));
    expect(beyond.kind).toBe('output_limit');
    expect(beyond.stdout).toHaveLength(max);
  });

  it('ends an output flood as output_limit with what fitted', async () => {
    const o = await rt.run(runRequest(await watRef('output_flood'), { limits: { maxOutputBytes: 4096 } }));
    expect(o).toMatchObject({ kind: 'output_limit', stdoutTruncated: true });
    expect(text(o.stdout)).toBe('x'.repeat(4096));
  });
});

describe('fuel', () => {
  it('reports the same fuelUsed on every run', async () => {
    const ref = await watRef('count_loop');
    const runs = await Promise.all([1, 2, 3].map(() => rt.run(runRequest(ref, { limits: { fuel: 10n ** 12n } }))));
    for (const o of runs) expect(o).toMatchObject({ kind: 'exited', exitCode: 0 });
    // One unit per executed instruction: 16 per pass of its 10^6 passes (the call and the callee
    // included), 3 more around them; test/unit/module.fuel-oracle.test.ts counts it independently.
    for (const o of runs) expect(o.fuelUsed).toBe(16_000_003n);
  });

  it('finishes with exactly the fuel it needs, exhausts with one unit less', async () => {
    const ref = await watRef('count_loop');
    const used = (await rt.run(runRequest(ref, { limits: { fuel: 10n ** 12n } }))).fuelUsed!;
    const exact = await rt.run(runRequest(ref, { limits: { fuel: used } }));
    expect(exact).toMatchObject({ kind: 'exited', exitCode: 0, fuelUsed: used });
    const short = await rt.run(runRequest(ref, { limits: { fuel: used - 1n } }));
    expect(short).toMatchObject({ kind: 'fuel_exhausted', fuelUsed: used - 1n });
  });

  it('stops an infinite loop when the fuel runs out', async () => {
    const o = await rt.run(runRequest(await watRef('infinite_loop'), { limits: { fuel: 1_000_000n, timeoutMs: 10_000 } }));
    expect(o).toMatchObject({ kind: 'fuel_exhausted', fuelUsed: 1_000_000n });
  });

  it('meters a C program deterministically without changing its result', async () => {
    const ref = await wasmRef('sha256sum');
    const stdin = new Uint8Array(64 * 1024).fill(7);
    const a = await rt.run(runRequest(ref, { stdin, limits: { fuel: 10n ** 12n } }));
    const b = await rt.run(runRequest(ref, { stdin, limits: { fuel: 10n ** 12n } }));
    const plain = await rt.run(runRequest(ref, { stdin }));
    expect(a.kind).toBe('exited');
    expect(a.fuelUsed).toBe(b.fuelUsed);
    expect(plain.fuelUsed).toBeUndefined();
    expect(text(a.stdout)).toBe(text(plain.stdout));
  });
});

describe('live output', () => {
  it('delivers chunks through onOutput while the task runs, adding up to the result', async () => {
    const chunks: OutputChunk[] = [];
    const o = await rt.run(runRequest(await watRef('ticker')), undefined, (c) => chunks.push(c));
    expect(o.kind).toBe('exited');
    expect(text(o.stdout)).toBe('tick\n'.repeat(5));
    // The final remainder comes as at most one chunk per stream: more chunks were sent live.
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect(chunks.every((c) => c.stream === 'stdout')).toBe(true);
    expect(chunks.map((c) => text(c.data)).join('')).toBe(text(o.stdout));
    // Each chunk says where it starts: right where the one before it ended.
    let end = 0;
    for (const c of chunks) {
      expect(c.offset).toBe(end);
      end += c.data.length;
    }
  });

  it('hands a short task its whole output once', async () => {
    const chunks: OutputChunk[] = [];
    const o = await rt.run(runRequest(await watRef('hello')), undefined, (c) => chunks.push(c));
    expect(chunks.map((c) => [c.stream, c.offset, text(c.data)])).toEqual([['stdout', 0, text(o.stdout)]]);
  });

  it('survives a listener that throws', async () => {
    const o = await rt.run(runRequest(await watRef('ticker')), undefined, () => {
      throw new Error('listener bug');
    });
    expect(o.kind).toBe('exited');
  });
});

describe('request validation', () => {
  it('answers host_error naming the bad limit instead of rejecting', async () => {
    const o = await rt.run(runRequest(await watRef('hello'), { limits: { timeoutMs: -1 } }));
    expect(o.kind).toBe('host_error');
    expect(o.error).toContain('limits.timeoutMs');
    const huge = await rt.run(runRequest(await watRef('hello'), { limits: { timeoutMs: 2 ** 31 } }));
    expect(huge.kind).toBe('host_error');
    const noBytes = await rt.run(runRequest({ digest: 'not a digest' }));
    expect(noBytes.kind).toBe('host_error');
  });
});
