/**
 * Output survives the end of a run: what a guest wrote before a timeout, a cancel, a fuel or
 * memory limit or the death of its worker thread is in the outcome (up to the cap), and reaches
 * onOutput while the guest still spins without ever calling the host again (src/runtime/live.ts).
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRuntime } from '../../src/runtime/index.js';
import type { ModuleRef, OutputChunk, Runtime } from '../../src/runtime/types.js';
import { runRequest, sha256Hex, text, watRef, watToWasm } from '../helpers/fixtures.js';

const KiB = 1024;
let rt: Runtime;
let spin: ModuleRef;
beforeAll(async () => {
  rt = makeRuntime({ workers: 2 }); // the default outputFlushMs (50 ms)
  spin = await watRef('print_then_spin');
});
afterAll(async () => {
  await rt?.close();
});

const inline = async (source: string): Promise<ModuleRef> => {
  const bytes = await watToWasm(source);
  return { digest: sha256Hex(bytes), bytes };
};

/** Writes `count` × 1000 bytes of "x" to stdout, one fd_write each, then spins forever. */
const floodThenSpin = (count: number) => `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (local $i i32)
    (memory.fill (i32.const 1024) (i32.const 120) (i32.const 1000))
    (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 1000))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (i32.const ${count})))
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (loop $l (br $l))))`;

describe('live output of a guest that never calls the host again', () => {
  it('reaches onOutput within 100 ms of the start while the guest spins', async () => {
    // Measured on a settled pool: no thread booting in the background (a spare replacing a
    // terminated worker) competes for the two cores.
    while (!(rt.stats().spares === 1 && rt.stats().idle === 2)) await new Promise((r) => setTimeout(r, 10));
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const ac = new AbortController();
      let startedAt = 0;
      const chunks: OutputChunk[] = [];
      const o = await rt.run(
        runRequest(spin, { limits: { timeoutMs: 2000 } }),
        ac.signal,
        (c) => {
          chunks.push(c);
          latencies.push(performance.now() - startedAt);
          ac.abort(); // seen live: end the spin
        },
        () => (startedAt = performance.now()),
      );
      // Ended by the cancel the chunk triggered, while spinning: not by the 2 s timeout.
      expect(o.kind).toBe('cancelled');
      expect(chunks.map((c) => [c.stream, text(c.data)])).toEqual([['stdout', 'before spin\n']]);
      expect(text(o.stdout)).toBe('before spin\n');
    }
    // From the start (the write comes right after instantiation) to the chunk: the pool reads
    // every 50 ms. The median, because a loaded 2-core box can delay any one timer or thread.
    latencies.sort((a, b) => a - b);
    expect(latencies[2]).toBeLessThan(100);
  });
});

describe('output of a run that does not end on its own', () => {
  it('keeps what a spinning guest printed when it times out', async () => {
    const o = await rt.run(runRequest(spin, { limits: { timeoutMs: 300 } }));
    expect(o).toMatchObject({ kind: 'timeout', stdoutTruncated: false });
    expect(text(o.stdout)).toBe('before spin\n');
    expect(o.memoryPeakBytes).toBe(65536);
  });

  it('keeps it when the run is cancelled', async () => {
    const ac = new AbortController();
    const o = await rt.run(runRequest(spin), ac.signal, undefined, () => setTimeout(() => ac.abort(), 200));
    expect(o.kind).toBe('cancelled');
    expect(text(o.stdout)).toBe('before spin\n');
  });

  it('keeps it when the fuel runs out', async () => {
    const o = await rt.run(runRequest(spin, { limits: { fuel: 5_000_000n } }));
    expect(o.kind).toBe('fuel_exhausted');
    expect(text(o.stdout)).toBe('before spin\n');
  });

  it('keeps it when the memory limit ends the run', async () => {
    const bomb = await inline(`(module
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 16) "before grow\\n")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 12))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
        unreachable))`);
    const o = await rt.run(runRequest(bomb, { limits: { memoryBytes: 4 << 20 } }));
    expect(o.kind).toBe('memory_limit');
    expect(text(o.stdout)).toBe('before grow\n');
  });

  it('keeps everything up to the cap when the guest wrote more than one shared area, live chunks adding up to it', async () => {
    const flood = await inline(floodThenSpin(300)); // 300 KB, areas of 64 KiB
    const chunks: OutputChunk[] = [];
    const o = await rt.run(runRequest(flood, { limits: { timeoutMs: 500, maxOutputBytes: 200 * KiB } }), undefined, (c) => chunks.push(c));
    expect(o).toMatchObject({ kind: 'timeout', stdoutTruncated: true });
    expect(o.stdout.length).toBe(200 * KiB);
    expect(o.stdout.every((b) => b === 120)).toBe(true);
    // Exactly the outcome's bytes, in order, each once.
    expect(Buffer.concat(chunks.map((c) => c.data))).toEqual(Buffer.from(o.stdout));
  });

  it('keeps what the guest wrote before its worker thread died', async () => {
    const script = new URL('../fixtures/scripts/print_then_die_worker.mjs', import.meta.url);
    const dying = makeRuntime({ workers: 1 }, { workerEntry: script });
    try {
      const o = await dying.run(runRequest(spin));
      expect(o.kind).toBe('host_error');
      expect(o.error).toContain('code 9');
      expect(text(o.stdout)).toBe('before spin\n');
    } finally {
      await dying.close();
    }
  });
});
