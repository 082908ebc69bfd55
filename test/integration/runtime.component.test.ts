/**
 * WASI 0.2 command components through a real worker pool, beside the same C programs built as
 * preview 1 modules (test/fixtures/components/build.sh wraps each with jco's preview 1 adapter):
 * the same inputs give the same outcome, output and files.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRuntime } from '../../src/runtime/index.js';
import type { ModuleRef, RunRequest, Runtime } from '../../src/runtime/types.js';
import { bytes, loadComponent, runRequest, sha256Hex, text, wasmRef } from '../helpers/fixtures.js';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime({ workers: 2 });
});
afterAll(async () => {
  await rt?.close();
});

async function componentRef(name: string): Promise<ModuleRef> {
  const b = await loadComponent(`${name}.component`);
  return { digest: sha256Hex(b), bytes: b };
}

type Over = Parameters<typeof runRequest>[1];

/** The program run both ways with the same request. */
async function both(name: string, over: Over = {}) {
  const [p1, p2] = await Promise.all([rt.run(runRequest(await wasmRef(name), over)), rt.run(runRequest(await componentRef(name), over))]);
  return { p1, p2 };
}

const visible = (o: Awaited<ReturnType<Runtime['run']>>) => ({
  kind: o.kind,
  exitCode: o.exitCode,
  stdout: text(o.stdout),
  stderr: text(o.stderr),
  files: o.files.map((f) => [f.path, sha256Hex(f.bytes)]),
  trap: o.trap,
});

describe('a component runs as its preview 1 module does', () => {
  it('copies an input file to an output file', async () => {
    const input = randomBytes(50_000);
    const { p1, p2 } = await both('copy', { args: ['/in.bin', '/out.bin'], files: [{ path: '/in.bin', bytes: input }] });
    expect(visible(p2)).toEqual(visible(p1));
    expect(p2).toMatchObject({ kind: 'exited', exitCode: 0 });
    expect(text(p2.stdout)).toBe('copied 50000 bytes\n');
    expect(Buffer.from(p2.files[0]!.bytes).equals(input)).toBe(true);
  });

  it('hashes stdin and a file argument', async () => {
    const stdin = await both('sha256sum', { stdin: bytes('hello component\n') });
    expect(visible(stdin.p2)).toEqual(visible(stdin.p1));
    expect(text(stdin.p2.stdout)).toBe('24b599b6eaeb23223e91427595eb6661d32d8d534bf5ae720a91eb56d59c967f\n');
    const file = await both('sha256sum', { args: ['/data/abc.txt'], files: [{ path: '/data/abc.txt', bytes: bytes('abc') }] });
    expect(text(file.p2.stdout)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n');
  });

  it('passes args and env, and runs a program from stdin (interp)', async () => {
    const program = bytes('x = 6; y = 7; print x * y; i = 0; while (i < 3) { print i; i = i + 1; }');
    const { p1, p2 } = await both('interp', { stdin: program, env: { A: 'b' } });
    expect(visible(p2)).toEqual(visible(p1));
    expect(text(p2.stdout)).toBe('42\n0\n1\n2\n');
  });

  it('reports a failing exit: wasi:cli/exit carries only ok or err, so a non-zero status is 1', async () => {
    const { p1, p2 } = await both('copy', { args: ['/nope', '/out.bin'] });
    expect(p1).toMatchObject({ kind: 'exited', exitCode: 3 });
    expect(p2).toMatchObject({ kind: 'exited', exitCode: 1 });
    expect(text(p2.stderr)).toBe(text(p1.stderr));
  });

  it.each(['unreachable', 'oob', 'div'])('traps with the same trap code as the module (%s), keeping the output before it', async (mode) => {
    const { p1, p2 } = await both('trap', { args: [mode] });
    expect(p1.kind).toBe('trap');
    expect(visible(p2)).toEqual(visible(p1));
  });

  it('is deterministic in deterministic mode: the same clock, sleep and random bytes on every run', async () => {
    const det = { seed: 1234, epochMs: Date.UTC(2024, 0, 1) };
    const ref = await componentRef('clock_random');
    const [a, b, c] = await Promise.all([
      rt.run(runRequest(ref, { deterministic: det })),
      rt.run(runRequest(ref, { deterministic: det })),
      rt.run(runRequest(ref, { deterministic: { ...det, seed: 99 } })),
    ]);
    expect(a.kind).toBe('exited');
    expect(text(a.stdout)).toBe(text(b.stdout));
    expect(text(a.stdout)).toMatch(new RegExp(`^wall ${det.epochMs}\\nslept \\d+\\nrandom [0-9a-f]{16}\\n$`));
    expect(text(c.stdout).split('\n')[2]).not.toBe(text(a.stdout).split('\n')[2]);
    const real = await rt.run(runRequest(ref));
    expect(Number(text(real.stdout).match(/^wall (\d+)/)![1])).toBeGreaterThan(Date.now() - 60_000);
    expect(Number(text(real.stdout).match(/slept (\d+)/)![1])).toBeGreaterThanOrEqual(5_000_000);
  });

  it('holds every memory to the cap: malloc answers NULL and the run is memory_limit', async () => {
    const { p1, p2 } = await both('malloc_until_null', { limits: { memoryBytes: 16 << 20 } });
    expect(p1.kind).toBe('memory_limit');
    expect(p2.kind).toBe('memory_limit');
    expect(text(p2.stdout)).toMatch(/^allocated 1[45] MiB/);
    expect(p2.memoryPeakBytes).toBeLessThanOrEqual(16 << 20);
  });

  it('refuses a component whose initial memory is beyond the cap', async () => {
    const o = await rt.run(runRequest(await componentRef('copy'), { limits: { memoryBytes: 65536 } }));
    expect(o.kind).toBe('memory_limit');
    expect(o.error).toMatch(/exceeds the limit of 65536 bytes/);
  });

  it('hands on its output live, while it runs, as the module does', async () => {
    const program = bytes('i = 0; while (i < 3) { print i; i = i + 1; } while (1) { x = x + 1; }');
    const live = async (ref: ModuleRef) => {
      let seen = '';
      const o = await rt.run(runRequest(ref, { stdin: program, limits: { timeoutMs: 500 } }), undefined, (c) => (seen += text(c.data)));
      return { kind: o.kind, seen, stdout: text(o.stdout) };
    };
    const [p1, p2] = await Promise.all([live(await wasmRef('interp')), live(await componentRef('interp'))]);
    expect(p2).toEqual(p1);
    expect(p2.kind).toBe('timeout');
    // Written before the endless loop: seen while it ran, and kept in the timed-out run's output.
    expect(p2.seen.length).toBeGreaterThan(0);
    expect(p2.stdout.startsWith(p2.seen)).toBe(true);
  });

  it('is stopped at its timeout', async () => {
    const o = await rt.run(runRequest(await componentRef('interp'), { stdin: bytes('while (1) { x = x + 1; }'), limits: { timeoutMs: 300 } }));
    expect(o.kind).toBe('timeout');
    expect(o.runMs).toBeGreaterThanOrEqual(300);
  });

  it('truncates output at maxOutputBytes as a module does', async () => {
    const program = bytes('i = 0; while (i < 5000) { print i; i = i + 1; }');
    const { p1, p2 } = await both('interp', { stdin: program, limits: { maxOutputBytes: 1000 } });
    expect(visible(p2)).toEqual(visible(p1));
    expect(p2.stdoutTruncated).toBe(true);
    expect(p2.stdout).toHaveLength(1000);
  });

  it('ends a flood past the hard output cap as output_limit', async () => {
    const o = await rt.run(runRequest(await componentRef('interp'), { stdin: bytes('while (1) { print 1234567890123456789; }'), limits: { maxOutputBytes: 100, timeoutMs: 60_000 } }));
    expect(o.kind).toBe('output_limit');
  }, 90_000);

  it('meters fuel across all its core modules against one budget', async () => {
    const over = { stdin: bytes('hello component\n'), limits: { fuel: 10_000_000n } };
    const { p1, p2 } = await both('sha256sum', over);
    expect(visible(p2)).toEqual(visible(p1));
    // The program's own instructions are the same; jco's preview 1 adapter adds its own.
    expect(p2.fuelUsed).toBeGreaterThan(p1.fuelUsed!);
    expect(p2.fuelUsed).toBeLessThan(p1.fuelUsed! * 4n);
    const again = await rt.run(runRequest(await componentRef('sha256sum'), over));
    expect(again.fuelUsed).toBe(p2.fuelUsed);
    const unmetered = await rt.run(runRequest(await componentRef('sha256sum'), { stdin: over.stdin }));
    expect(unmetered.fuelUsed).toBeUndefined();
  });

  it('ends a run that spends its budget as fuel_exhausted, in the program or in the adapter', async () => {
    const spin = await rt.run(runRequest(await componentRef('interp'), { stdin: bytes('while (1) { x = x + 1; }'), limits: { fuel: 2_000_000n } }));
    expect(spin).toMatchObject({ kind: 'fuel_exhausted', fuelUsed: 2_000_000n });
    // Printing in a loop spends most of the budget in the adapter (fd_write → wasi:io/streams).
    const chatty = await rt.run(runRequest(await componentRef('interp'), { stdin: bytes('while (1) { print 1; }'), limits: { fuel: 2_000_000n, maxOutputBytes: 1 << 20 } }));
    expect(chatty).toMatchObject({ kind: 'fuel_exhausted', fuelUsed: 2_000_000n });
  });

  it('sees the task\'s mounts: reads a read-only /in, writes a writable /out, changes nothing in /in', async () => {
    const mounts: RunRequest['mounts'] = [{ path: '/in', readOnly: true }, { path: '/out', readOnly: false }];
    const files = [{ path: '/in/a.txt', bytes: bytes('mounted\n') }];
    const ok = await both('copy', { args: ['/in/a.txt', '/out/b.txt'], mounts, files });
    expect(visible(ok.p2)).toEqual(visible(ok.p1));
    expect(ok.p2.files.map((f) => [f.path, text(f.bytes)])).toEqual([['/out/b.txt', 'mounted\n']]);
    const refused = await both('copy', { args: ['/in/a.txt', '/in/b.txt'], mounts, files });
    expect(refused.p1).toMatchObject({ kind: 'exited', exitCode: 4 });
    expect(refused.p2).toMatchObject({ kind: 'exited', exitCode: 1, files: [] });
    expect(text(refused.p2.stderr)).toContain('/in/b.txt');
  });
});

describe('a component written in JavaScript (componentize-js, no AOT: StarlingMonkey, 12 MB)', () => {
  it('reads stdin, args and env and writes stdout through wasi:cli', async () => {
    const wasm = new Uint8Array(gunzipSync(await readFile(new URL('../fixtures/components/js/hello.component.wasm.gz', import.meta.url))));
    const ref = { digest: sha256Hex(wasm), bytes: wasm };
    const info = await rt.inspect(wasm);
    expect(info.format).toBe('component');
    const o = await rt.run(runRequest(ref, { args: ['a', 'b'], env: { NAME: 'x' }, stdin: bytes('hello\n'), limits: { memoryBytes: 256 << 20 } }));
    expect(o).toMatchObject({ kind: 'exited', exitCode: 0 });
    expect(text(o.stdout)).toBe('js: HELLO\nargs: ["main.wasm","a","b"]\nNAME=x\n');
    // Its memory is what it starts with (StarlingMonkey's heap), within the cap.
    expect(o.memoryPeakBytes).toBeGreaterThan(1 << 20);
    expect(o.memoryPeakBytes).toBeLessThanOrEqual(256 << 20);
  }, 120_000);
});

describe('inspecting a component', () => {
  it('reports its world and what its cores need', async () => {
    const info = await rt.inspect(await loadComponent('copy.component'));
    expect(info.format).toBe('component');
    expect(info.isCommand).toBe(true);
    expect(info.exports.map((e) => e.name)).toEqual([expect.stringMatching(/^wasi:cli\/run@0\.2\./)]);
    expect(info.imports.map((i) => i.module)).toEqual(expect.arrayContaining([expect.stringMatching(/^wasi:filesystem\/types@0\.2\./)]));
    expect(info.memory?.initialPages).toBeGreaterThan(0);
  });

  it('refuses before transpiling, naming the reason: hostile core names, a foreign import, no wasi:cli/run', async () => {
    await expect(rt.inspect(await loadComponent('hostile_names'))).rejects.toThrow(/core import or export names/);
    await expect(rt.inspect(await loadComponent('foreign_import'))).rejects.toThrow(/does not provide/);
    await expect(rt.inspect(await loadComponent('not_command'))).rejects.toThrow(/not a WASI command/);
  });
});
