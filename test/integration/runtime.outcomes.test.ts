/**
 * Every way a guest can end, through a real worker pool: exits, each trap code, invalid modules,
 * stdio, args, env, files, C programs built with wasi-libc, deterministic mode.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRuntime } from '../../src/runtime/index.js';
import type { Runtime } from '../../src/runtime/types.js';
import { bytes, loadWat, malformedBytes, runRequest, sha256Hex, text, wasmRef, watRef, watToWasm } from '../helpers/fixtures.js';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime({ workers: 2 });
});
afterAll(async () => {
  await rt?.close();
});

describe('exits', () => {
  it('runs hello: returning from _start is exit 0', async () => {
    const o = await rt.run(runRequest(await watRef('hello')));
    expect(o).toMatchObject({ kind: 'exited', exitCode: 0, stdoutTruncated: false, stderrTruncated: false, files: [] });
    expect(text(o.stdout)).toBe('hello, world\n');
    expect(o.stderr).toHaveLength(0);
    expect(o.trap).toBeUndefined();
    expect(o.memoryPeakBytes).toBe(65536);
    expect(o.runMs).toBeGreaterThanOrEqual(0);
  });

  it.each([0, 1, 7, 42, 255])('reports proc_exit(%i)', async (code) => {
    const o = await rt.run(runRequest(await watRef('exit_code'), { args: [String(code)] }));
    expect(o).toMatchObject({ kind: 'exited', exitCode: code });
  });

  it('passes stdin through', async () => {
    const input = randomBytes(100_000);
    const o = await rt.run(runRequest(await watRef('echo_stdin'), { stdin: input }));
    expect(o.kind).toBe('exited');
    expect(Buffer.from(o.stdout).equals(input)).toBe(true);
  });

  it('passes argv (with argv0) and the environment', async () => {
    const o = await rt.run(
      runRequest(await watRef('print_args_env'), { argv0: 'prog', args: ['one', 'two words', 'ünï'], env: { A: '1', LANG: 'C.UTF-8' } }),
    );
    expect(o.kind).toBe('exited');
    expect(text(o.stdout)).toBe('prog\none\ntwo words\nünï\n--\nA=1\nLANG=C.UTF-8\n');
  });

  it('defaults argv0 to main.wasm', async () => {
    const o = await rt.run(runRequest(await watRef('print_args_env')));
    expect(text(o.stdout)).toBe('main.wasm\n--\n');
  });

  it('reports the memory size at the end of the run', async () => {
    const o = await rt.run(runRequest(await watRef('grow')));
    expect(o).toMatchObject({ kind: 'exited', exitCode: 0, memoryPeakBytes: 4 * 65536 });
  });
});

describe('traps', () => {
  it.each([
    ['unreachable', 'unreachable'],
    ['memory_oob', 'memory_out_of_bounds'],
    ['div_zero', 'divide_by_zero'],
    ['int_overflow', 'integer_overflow'],
    ['invalid_conversion', 'invalid_conversion'],
    ['stack_overflow', 'stack_overflow'],
    ['indirect_call_mismatch', 'indirect_call_mismatch'],
    ['table_oob', 'table_out_of_bounds'],
  ])('%s traps with code %s', async (fixture, code) => {
    const o = await rt.run(runRequest(await watRef(fixture)));
    expect(o.kind).toBe('trap');
    expect(o.exitCode).toBeNull();
    expect(o.trap?.code).toBe(code);
    expect(o.trap?.message).toBeTruthy();
  });

  it('classifies a data segment that does not fit as a trap at instantiation', async () => {
    const wasm = await watToWasm('(module (memory 1) (data (i32.const 65535) "ab") (func (export "_start")))');
    const o = await rt.run(runRequest({ digest: sha256Hex(wasm), bytes: wasm }));
    expect(o).toMatchObject({ kind: 'trap', trap: { code: 'data_segment_out_of_bounds' } });
  });

  it('keeps output written before the trap', async () => {
    const wasm = await watToWasm(`(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (memory 1) (data (i32.const 16) "before\\n")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 7))
        (drop (call $w (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
        unreachable))`);
    const o = await rt.run(runRequest({ digest: sha256Hex(wasm), bytes: wasm }));
    expect(o.kind).toBe('trap');
    expect(text(o.stderr)).toBe('before\n');
  });
});

describe('invalid modules', () => {
  it('names a missing import', async () => {
    const o = await rt.run(runRequest(await watRef('missing_import')));
    expect(o.kind).toBe('invalid_module');
    expect(o.error).toContain('launch_missiles');
  });

  it('rejects malformed bytes', async () => {
    const wasm = malformedBytes();
    const o = await rt.run(runRequest({ digest: sha256Hex(wasm), bytes: wasm }));
    expect(o.kind).toBe('invalid_module');
    expect(o.error).toBeTruthy();
  });

  it('rejects a module that is not a command', async () => {
    const o = await rt.run(runRequest(await watRef('not_command')));
    expect(o.kind).toBe('invalid_module');
    expect(o.error).toContain('_start');
  });

  it('refuses an import with the wrong type as invalid_module, never host_error (the fuzz mutant "bitFlip of ticker")', async () => {
    // One flipped bit turns clock_time_get's i32 errno into an i64. A JS host function links
    // under any type, so this used to run and end host_error "Cannot convert 0 to a BigInt".
    const ticker = await loadWat('ticker');
    const type = Buffer.from([0x60, 0x03, 0x7f, 0x7e, 0x7f, 0x01, 0x7f]); // (i32, i64, i32) -> i32
    const at = Buffer.from(ticker).indexOf(type);
    expect(at).toBeGreaterThan(0);
    const wasm = ticker.slice();
    wasm[at + type.length - 1]! ^= 0x01; // 0x7f i32 -> 0x7e i64
    const digest = sha256Hex(wasm);
    const why = 'import wasi_snapshot_preview1.clock_time_get has type (i32, i64, i32) -> i64, wasi_snapshot_preview1 defines (i32, i64, i32) -> i32';
    for (const fuel of [undefined, 1_000_000n]) {
      const o = await rt.run(runRequest({ digest, bytes: wasm }, { limits: fuel === undefined ? {} : { fuel } }));
      expect(o).toMatchObject({ kind: 'invalid_module', error: why });
    }
    expect(await rt.run(runRequest({ digest }))).toMatchObject({ kind: 'invalid_module', error: why }); // by digest alone
    await expect(rt.inspect(wasm)).rejects.toMatchObject({ code: 'INVALID_MODULE', message: why });
  });

  it('refuses a _start that JS cannot call without a TypeError (an i64 parameter) as invalid_module', async () => {
    const wasm = await watToWasm('(module (func (export "_start") (param i64)))');
    const o = await rt.run(runRequest({ digest: sha256Hex(wasm), bytes: wasm }));
    expect(o).toMatchObject({ kind: 'invalid_module', error: '"_start" must take no parameters and return no results' });
  });

  it('rejects bytes that do not match the digest', async () => {
    const wasm = await loadWat('hello');
    const o = await rt.run(runRequest({ digest: '0'.repeat(64), bytes: wasm }));
    expect(o.kind).toBe('invalid_module');
    expect(o.error).toContain('digest');
  });

  it('answers host_error for an unknown digest without bytes', async () => {
    const o = await rt.run(runRequest({ digest: 'f'.repeat(64) }));
    expect(o.kind).toBe('host_error');
  });

  it('inspect() throws INVALID_MODULE with the reason, and describes a good module', async () => {
    await expect(rt.inspect(await loadWat('missing_import'))).rejects.toMatchObject({ code: 'INVALID_MODULE' });
    await expect(rt.inspect(malformedBytes())).rejects.toMatchObject({ code: 'INVALID_MODULE' });
    await expect(rt.inspect(await loadWat('not_command'))).rejects.toMatchObject({ code: 'INVALID_MODULE' });
    const hello = await loadWat('hello');
    const info = await rt.inspect(hello);
    expect(info).toMatchObject({ digest: sha256Hex(hello), size: hello.length, isCommand: true });
    expect(info.imports).toContainEqual({ module: 'wasi_snapshot_preview1', name: 'fd_write', kind: 'function' });
    expect(info.memory).toMatchObject({ initialPages: 1, maximumPages: null });
  });

  it('prepare() compiles ahead, so the first run reports no compile time', async () => {
    const wasm = await watToWasm('(module (memory 1) (func (export "_start") nop))');
    const ref = { digest: sha256Hex(wasm), bytes: wasm };
    await rt.prepare(ref);
    const o = await rt.run(runRequest({ digest: ref.digest }));
    expect(o).toMatchObject({ kind: 'exited', exitCode: 0, compileMs: 0 });
    await expect(rt.prepare({ digest: sha256Hex(malformedBytes()), bytes: malformedBytes() })).rejects.toMatchObject({
      code: 'INVALID_MODULE',
    });
  });

  it('reports compile time on the first run and 0 from the cache', async () => {
    const wasm = await watToWasm('(module (memory 1) (func (export "_start") nop nop))');
    const ref = { digest: sha256Hex(wasm), bytes: wasm };
    const first = await rt.run(runRequest(ref));
    const second = await rt.run(runRequest(ref));
    expect(first.compileMs).toBeGreaterThan(0);
    expect(second.compileMs).toBe(0);
  });
});

describe('files', () => {
  it('reads an input file and returns a written one', async () => {
    const read = await rt.run(runRequest(await watRef('file_reader'), { files: [{ path: '/input.txt', bytes: bytes('from the host\n') }] }));
    expect(read).toMatchObject({ kind: 'exited', exitCode: 0, files: [] });
    expect(text(read.stdout)).toBe('from the host\n');

    const missing = await rt.run(runRequest(await watRef('file_reader')));
    expect(missing).toMatchObject({ kind: 'exited', exitCode: 4 });

    const wrote = await rt.run(runRequest(await watRef('file_writer')));
    expect(wrote).toMatchObject({ kind: 'exited', exitCode: 0 });
    expect(wrote.files.map((f) => [f.path, text(f.bytes)])).toEqual([['/output.txt', 'written by the guest\n']]);
  });
});

describe('C programs (clang + wasi-libc)', () => {
  it('sha256sum hashes stdin like node:crypto', async () => {
    const input = randomBytes(300_000);
    const o = await rt.run(runRequest(await wasmRef('sha256sum'), { stdin: input }));
    expect(o).toMatchObject({ kind: 'exited', exitCode: 0 });
    expect(text(o.stdout)).toBe(`${createHash('sha256').update(input).digest('hex')}\n`);
  });

  it('sha256sum hashes a file argument', async () => {
    const input = bytes('abc');
    const o = await rt.run(runRequest(await wasmRef('sha256sum'), { args: ['/data/abc.txt'], files: [{ path: '/data/abc.txt', bytes: input }] }));
    expect(text(o.stdout)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n');
  });

  it('copy.c copies a file with fopen/fread/fwrite', async () => {
    const input = randomBytes(50_000);
    const o = await rt.run(runRequest(await wasmRef('copy'), { args: ['/in.bin', '/out.bin'], files: [{ path: '/in.bin', bytes: input }] }));
    expect(o).toMatchObject({ kind: 'exited', exitCode: 0 });
    expect(text(o.stdout)).toBe('copied 50000 bytes\n');
    expect(o.files.map((f) => f.path)).toEqual(['/out.bin']);
    expect(Buffer.from(o.files[0]!.bytes).equals(input)).toBe(true);
  });

  it('copy.c reports a missing source with its exit code and stderr', async () => {
    const o = await rt.run(runRequest(await wasmRef('copy'), { args: ['/nope', '/out.bin'] }));
    expect(o).toMatchObject({ kind: 'exited', exitCode: 3 });
    expect(text(o.stderr)).toContain('/nope');
  });
});

describe('deterministic mode', () => {
  it('gives identical bytes across runs with the same seed and epoch', async () => {
    const ref = await watRef('random_clock');
    const det = { seed: 1234, epochMs: Date.UTC(2024, 0, 1) };
    const a = await rt.run(runRequest(ref, { deterministic: det }));
    const b = await rt.run(runRequest(ref, { deterministic: det }));
    const c = await rt.run(runRequest(ref, { deterministic: { ...det, seed: 99 } }));
    expect(a.kind).toBe('exited');
    expect(a.stdout).toHaveLength(24);
    expect(Buffer.from(a.stdout).equals(Buffer.from(b.stdout))).toBe(true);
    expect(Buffer.from(a.stdout.subarray(0, 16)).equals(Buffer.from(c.stdout.subarray(0, 16)))).toBe(false);
    // The realtime clock starts at the given epoch (ns, little endian).
    const ns = Buffer.from(a.stdout).readBigUInt64LE(16);
    expect(ns / 1_000_000n).toBe(BigInt(det.epochMs));
  });

  it('differs between runs without it', async () => {
    const ref = await watRef('random_clock');
    const a = await rt.run(runRequest(ref));
    const b = await rt.run(runRequest(ref));
    expect(Buffer.from(a.stdout.subarray(0, 16)).equals(Buffer.from(b.stdout.subarray(0, 16)))).toBe(false);
  });
});
