/**
 * The pool's shared-memory channel (src/runtime/channel.ts) carries small requests and results
 * inline and falls back to whole messages for the rest. Both paths, and the sizes around the
 * slot boundaries, must give exactly what a single run gives: these tests pin that down.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { REQ_HEAD } from '../../src/runtime/channel.js';
import { makeRuntime } from '../../src/runtime/index.js';
import { WakeHold } from '../../src/runtime/slot.js';
import type { Runtime } from '../../src/runtime/types.js';
import { runRequest, text, watRef } from '../helpers/fixtures.js';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime({ workers: 2 });
});
afterAll(async () => {
  await rt?.close();
});

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('shared-memory channel', () => {
  it('echoes stdin of every size around the slot limits, byte for byte, concurrently', async () => {
    const echo = await watRef('echo_stdin');
    const sizes = [0, 1, 700, 900, 1000, 1024, 2000, 3900, 4000, 4096, 5000, 70_000, 200_000];
    const runs = sizes.flatMap((n, k) => [0, 1, 2].map((rep) => ({ input: bytes(n, k * 3 + rep) })));
    const outcomes = await Promise.all(runs.map((r) => rt.run(runRequest(echo, { stdin: r.input }))));
    outcomes.forEach((o, i) => {
      expect(o.kind).toBe('exited');
      expect(Buffer.from(o.stdout).equals(Buffer.from(runs[i]!.input)), `run ${i} (${runs[i]!.input.length} bytes)`).toBe(true);
    });
  });

  it('hands over argv and env exactly, non-ASCII and long ones included', async () => {
    const print = await watRef('print_args_env');
    const cases: { args: string[]; env: Record<string, string> }[] = [
      { args: [], env: {} },
      { args: ['a', '', 'ünïcødé ✓', '日本語'], env: { K: 'v', EMPTY: '', 'Ω': 'ω=≠' } },
      { args: ['x'.repeat(600), 'y'.repeat(600)], env: { LONG: 'z'.repeat(900) } }, // past one slot
    ];
    for (const c of cases) {
      const o = await rt.run(runRequest(print, { argv0: 'prog', args: c.args, env: c.env }));
      const env = Object.entries(c.env).map(([k, v]) => `${k}=${v}\n`).join('');
      expect(o.kind).toBe('exited');
      expect(text(o.stdout)).toBe(`prog\n${c.args.map((a) => `${a}\n`).join('')}--\n${env}`);
    }
  });

  it('keeps results of many short tasks apart when they are prefetched and batched', async () => {
    const print = await watRef('print_args_env');
    const outcomes = await Promise.all(Array.from({ length: 300 }, (_, i) => rt.run(runRequest(print, { args: [`task-${i}`] }))));
    outcomes.forEach((o, i) => expect(text(o.stdout)).toBe(`main.wasm\ntask-${i}\n--\n`));
  });

  it('wakes no worker in the middle of a drain: the jobs it hands on are woken for once it is done', async () => {
    const print = await watRef('print_args_env');
    await rt.run(runRequest(print, { args: ['warm'] })); // compiled, known to a worker
    let draining = 0;
    let wokenInDrain = 0;
    let woken = 0;
    const during = WakeHold.prototype.during;
    const hold = vi.spyOn(WakeHold.prototype, 'during').mockImplementation(function (this: WakeHold, work) {
      draining++;
      try {
        return during.call(this, work);
      } finally {
        draining--;
      }
    });
    const notify = Atomics.notify.bind(Atomics) as (array: Int32Array, index: number, count?: number) => number;
    const spy = vi.spyOn(Atomics, 'notify').mockImplementation((array: Int32Array | BigInt64Array, index: number, count?: number) => {
      if (index === REQ_HEAD) {
        woken++;
        // `during` sends its held wakes in its finally, before the wrapper above counts it out.
        if (draining > 0 && !new Error().stack!.includes('WakeHold.send')) wokenInDrain++;
      }
      return notify(array as Int32Array, index, count);
    });
    try {
      // Far more than the inboxes hold: most jobs are handed on by drains, as each result arrives.
      const outcomes = await Promise.all(Array.from({ length: 400 }, (_, i) => rt.run(runRequest(print, { args: [`job-${i}`] }))));
      outcomes.forEach((o, i) => expect(text(o.stdout)).toBe(`main.wasm\njob-${i}\n--\n`));
      expect(hold).toHaveBeenCalled();
      expect(woken).toBeGreaterThan(0);
      expect(wokenInDrain).toBe(0);
    } finally {
      spy.mockRestore();
      hold.mockRestore();
    }
  });

  it('reports fuel identically on both paths (a budget beyond i64 included)', async () => {
    const hello = await watRef('hello');
    const small = await rt.run(runRequest(hello, { limits: { fuel: 1_000_000n } }));
    const huge = await rt.run(runRequest(hello, { limits: { fuel: 1_000_000n }, stdin: bytes(5000, 1) }));
    expect(small.kind).toBe('exited');
    expect(huge.fuelUsed).toBe(small.fuelUsed);
    expect(small.fuelUsed).toBeGreaterThan(0n);
    const beyond = await rt.run(runRequest(hello, { limits: { fuel: 2n ** 64n } }));
    const viaMessage = await rt.run(runRequest(hello, { limits: { fuel: 2n ** 64n }, stdin: bytes(5000, 2) }));
    expect({ kind: viaMessage.kind, fuelUsed: viaMessage.fuelUsed }).toEqual({ kind: beyond.kind, fuelUsed: beyond.fuelUsed });
  });
});
