/**
 * The WASI host running whole WAT programs: each test compiles a tiny command, instantiates it
 * on the main thread with the host's imports, calls `_start` and checks what came out.
 * Per-call behaviour (filesystem, errnos) is in wasi-calls.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  makeWasiHost,
  OutputLimitExceeded,
  ProcExit,
  WASI_FUNCTIONS,
  WASI_SIGNATURES,
  type WasiHostOptions,
} from '../../src/runtime/wasi/index.js';
import { watToWasm } from '../helpers/fixtures.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Ran {
  exitCode: number | null;
  error: unknown;
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  files: { path: string; bytes: Uint8Array }[];
  memory: WebAssembly.Memory;
}

/** Compile `wat`, run `_start` with a fresh host; `env` supplies extra imports (module "env"). */
async function run(wat: string, opts: Partial<WasiHostOptions> = {}, env: Record<string, unknown> = {}): Promise<Ran> {
  const module = new WebAssembly.Module(await watToWasm(wat));
  const host = makeWasiHost({
    args: ['prog'], env: {}, stdin: new Uint8Array(0), files: [],
    maxOutputBytes: 1 << 20, hardOutputBytes: 8 << 20, ...opts,
  });
  const instance = new WebAssembly.Instance(module, { ...host.imports, env } as WebAssembly.Imports);
  const memory = instance.exports.memory as WebAssembly.Memory;
  host.setMemory(memory);
  let exitCode: number | null = 0;
  let error: unknown;
  try {
    (instance.exports._start as () => void)();
  } catch (e) {
    if (e instanceof ProcExit) exitCode = e.code;
    else [exitCode, error] = [null, e];
  }
  const r = host.result();
  return { exitCode, error, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr), stdoutBytes: r.stdout,
    stdoutTruncated: r.stdoutTruncated, stderrTruncated: r.stderrTruncated, files: r.files, memory };
}

const imp = (name: string) => {
  const sig = WASI_SIGNATURES[name]!;
  const params = [...sig.params].map((p) => (p === 'I' ? 'i64' : 'i32')).join(' ');
  return `(import "wasi_snapshot_preview1" "${name}" (func $${name} (param ${params}) ${sig.results ? '(result i32)' : ''}))`;
};

const HELLO = `(module ${imp('args_sizes_get')} ${imp('fd_write')} ${imp('proc_exit')}
  (memory (export "memory") 1)
  (data (i32.const 16) "hello, world\\n")
  (func (export "_start")
    (drop (call $args_sizes_get (i32.const 100) (i32.const 104)))
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 13))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 0))))`;

/** Writes `count` chunks of `chunk` bytes ('x') to fd `fd` (imported globals). */
const FLOOD = `(module ${imp('fd_write')}
  (import "env" "fd" (global $fd i32)) (import "env" "chunk" (global $chunk i32)) (import "env" "count" (global $count i32))
  (memory (export "memory") 2)
  (func (export "_start") (local $i i32)
    (memory.fill (i32.const 1024) (i32.const 120) (global.get $chunk))
    (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (global.get $chunk))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (global.get $count)))
      (drop (call $fd_write (global.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))))`;
const flood = (fd: number, chunk: number, count: number) => ({ fd, chunk, count });

describe('wasi host: programs', () => {
  it('runs hello world: stdout captured, live chunks delivered, exit 0', async () => {
    const chunks: [string, string][] = [];
    const r = await run(HELLO, { onOutput: (s, buf, start, end) => chunks.push([s, dec.decode(buf.subarray(start, end))]) });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('hello, world\n');
    expect(r.stderr).toBe('');
    expect(chunks).toEqual([['stdout', 'hello, world\n']]);
    expect(r.files).toEqual([]);
  });

  it('round-trips args and environ as NUL-terminated strings with valid pointers', async () => {
    // Prints the argv blob to stdout and the environ blob to stderr, then checks each pointer
    // points at the start of its string (exit 1 when one does not).
    const wat = `(module ${imp('args_sizes_get')} ${imp('args_get')} ${imp('environ_sizes_get')} ${imp('environ_get')} ${imp('fd_write')} ${imp('proc_exit')}
      (memory (export "memory") 1)
      (func $dump (param $sizes i32) (param $fd i32) (param $ptrs i32) (param $buf i32) (result i32)
        (local $i i32) (local $n i32)
        (local.set $n (i32.load (local.get $sizes)))
        (block $bad (block $ok (loop $next
          (br_if $ok (i32.ge_u (local.get $i) (local.get $n)))
          ;; every pointer lies inside the buffer, just after a NUL (or at its start)
          (br_if $bad (i32.lt_u (i32.load (i32.add (local.get $ptrs) (i32.mul (local.get $i) (i32.const 4)))) (local.get $buf)))
          (if (i32.gt_u (i32.load (i32.add (local.get $ptrs) (i32.mul (local.get $i) (i32.const 4)))) (local.get $buf))
            (then (br_if $bad (i32.load8_u (i32.sub (i32.load (i32.add (local.get $ptrs) (i32.mul (local.get $i) (i32.const 4)))) (i32.const 1))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
          (i32.store (i32.const 0) (local.get $buf))
          (i32.store (i32.const 4) (i32.load (i32.add (local.get $sizes) (i32.const 4))))
          (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
          (return (local.get $n)))
        (i32.const -1))
      (func (export "_start")
        (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
        (drop (call $args_get (i32.const 1024) (i32.const 2048)))
        (drop (call $environ_sizes_get (i32.const 24) (i32.const 28)))
        (drop (call $environ_get (i32.const 4096) (i32.const 8192)))
        (if (i32.ne (call $dump (i32.const 16) (i32.const 1) (i32.const 1024) (i32.const 2048)) (i32.const 3)) (then (call $proc_exit (i32.const 1))))
        (if (i32.ne (call $dump (i32.const 24) (i32.const 2) (i32.const 4096) (i32.const 8192)) (i32.const 2)) (then (call $proc_exit (i32.const 1))))))`;
    const r = await run(wat, { args: ['prog', 'a b', 'ünï'], env: { HOME: '/', EMPTY: '' } });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('prog\0a b\0ünï\0');
    expect(r.stderr).toBe('HOME=/\0EMPTY=\0');
  });

  it('echoes stdin to stdout, reading in small pieces until EOF', async () => {
    const wat = `(module ${imp('fd_read')} ${imp('fd_write')}
      (memory (export "memory") 1)
      (func (export "_start")
        (loop $next
          (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 7))
          (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
          (if (i32.load (i32.const 8)) (then
            (i32.store (i32.const 4) (i32.load (i32.const 8)))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 12)))
            (br $next))))))`;
    const input = enc.encode('line one\nline two\n'.repeat(50));
    const r = await run(wat, { stdin: input });
    expect(r.stdoutBytes).toEqual(input);
  });

  it('keeps stdout and stderr apart', async () => {
    const wat = `(module ${imp('fd_write')}
      (memory (export "memory") 1)
      (data (i32.const 100) "outerr")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 3))
        (i32.store (i32.const 8) (i32.const 103)) (i32.store (i32.const 12) (i32.const 3))
        (drop (call $fd_write (i32.const 2) (i32.const 8) (i32.const 1) (i32.const 16)))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 2) (i32.const 16)))))`;
    const r = await run(wat);
    expect(r.stdout).toBe('outouterr');
    expect(r.stderr).toBe('err');
  });

  it('passes the proc_exit code through; returning from _start is not an exit', async () => {
    const exit = (code: number) => `(module ${imp('proc_exit')} (memory (export "memory") 1)
      (func (export "_start") (call $proc_exit (i32.const ${code})) (unreachable)))`;
    expect((await run(exit(42))).exitCode).toBe(42);
    expect((await run(exit(-1))).exitCode).toBe(0xffffffff); // exitcode is a u32
    const r = await run(`(module (memory (export "memory") 1) (func (export "_start")))`);
    expect([r.exitCode, r.error]).toEqual([0, undefined]);
  });

  it('sees memory growth: a write from a freshly grown page works', async () => {
    const wat = `(module ${imp('fd_write')}
      (memory (export "memory") 1)
      (func (export "_start")
        (drop (memory.grow (i32.const 1)))
        (i32.store8 (i32.const 70000) (i32.const 33))
        (i32.store (i32.const 0) (i32.const 70000)) (i32.store (i32.const 4) (i32.const 1))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (drop (memory.grow (i32.const 1)))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`;
    expect((await run(wat)).stdout).toBe('!!');
  });

  it('answers EFAULT for pointers outside memory and lets the guest carry on', async () => {
    const wat = `(module ${imp('fd_write')} ${imp('args_get')} ${imp('random_get')} ${imp('proc_exit')}
      (memory (export "memory") 1)
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 65530)) (i32.store (i32.const 4) (i32.const 100))
        (if (i32.ne (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)) (i32.const 21)) (then (call $proc_exit (i32.const 1))))
        (if (i32.ne (call $fd_write (i32.const 1) (i32.const 65535) (i32.const 1) (i32.const 8)) (i32.const 21)) (then (call $proc_exit (i32.const 2))))
        (if (i32.ne (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const -4)) (i32.const 21)) (then (call $proc_exit (i32.const 3))))
        (if (i32.ne (call $args_get (i32.const 65534) (i32.const 0)) (i32.const 21)) (then (call $proc_exit (i32.const 4))))
        (if (i32.ne (call $random_get (i32.const 65000) (i32.const 1000)) (i32.const 21)) (then (call $proc_exit (i32.const 5))))
        (call $proc_exit (i32.const 7))))`;
    const r = await run(wat);
    expect(r.exitCode).toBe(7);
    expect(r.stdout).toBe('');
  });

  it('copies an input file to a new file through the preopened "/"', async () => {
    // path_open(3, "data/in.txt") → read all → path_open(3, "out/copy.txt", creat|trunc) → write.
    const wat = `(module ${imp('path_open')} ${imp('fd_read')} ${imp('fd_write')} ${imp('fd_close')} ${imp('path_create_directory')} ${imp('proc_exit')}
      (memory (export "memory") 1)
      (data (i32.const 100) "data/in.txt") (data (i32.const 120) "out") (data (i32.const 130) "out/copy.txt")
      (func $check (param i32) (if (local.get 0) (then (call $proc_exit (i32.add (i32.const 100) (local.get 0))))))
      (func (export "_start")
        (call $check (call $path_open (i32.const 3) (i32.const 1) (i32.const 100) (i32.const 11) (i32.const 0)
          (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 0)))
        (i32.store (i32.const 8) (i32.const 1024)) (i32.store (i32.const 12) (i32.const 4096))
        (call $check (call $fd_read (i32.load (i32.const 0)) (i32.const 8) (i32.const 1) (i32.const 16)))
        (call $check (call $fd_close (i32.load (i32.const 0))))
        (call $check (call $path_create_directory (i32.const 3) (i32.const 120) (i32.const 3)))
        (call $check (call $path_open (i32.const 3) (i32.const 0) (i32.const 130) (i32.const 12) (i32.const 9)
          (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 4)))
        (i32.store (i32.const 12) (i32.load (i32.const 16)))
        (call $check (call $fd_write (i32.load (i32.const 4)) (i32.const 8) (i32.const 1) (i32.const 20)))
        (call $proc_exit (i32.const 0))))`;
    const r = await run(wat, { files: [{ path: '/data/in.txt', bytes: enc.encode('copy me, please') }] });
    expect(r.exitCode).toBe(0);
    expect(r.files.map((f) => [f.path, dec.decode(f.bytes)])).toEqual([['/out/copy.txt', 'copy me, please']]);
  });

  it('lists every preview 1 function, each one present in the import object', () => {
    expect(WASI_FUNCTIONS).toHaveLength(46);
    expect([...WASI_FUNCTIONS].sort()).toEqual(Object.keys(WASI_SIGNATURES).sort());
    const ns = makeWasiHost({ args: [], env: {}, stdin: new Uint8Array(0), files: [], maxOutputBytes: 1, hardOutputBytes: 1 })
      .imports.wasi_snapshot_preview1 as Record<string, unknown>;
    for (const name of WASI_FUNCTIONS) expect(typeof ns[name], name).toBe('function');
  });
});

describe('wasi host: output limits', () => {
  it('keeps exactly maxOutputBytes without the truncated flag', async () => {
    const r = await run(FLOOD, { maxOutputBytes: 100 }, flood(1, 10, 10));
    expect(r.stdout).toBe('x'.repeat(100));
    expect(r.stdoutTruncated).toBe(false);
  });

  it('drops bytes past maxOutputBytes, flags the stream, keeps the other clean', async () => {
    const r = await run(FLOOD, { maxOutputBytes: 100 }, flood(2, 7, 15)); // 105 bytes, cap inside a chunk
    expect(r.stderr).toBe('x'.repeat(100));
    expect(r.stderrTruncated).toBe(true);
    expect(r.stdoutTruncated).toBe(false);
    expect(r.exitCode).toBe(0);
  });

  it('tells the guest every byte was written even when dropped', async () => {
    const wat = `(module ${imp('fd_write')} ${imp('proc_exit')}
      (memory (export "memory") 1)
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 50))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (call $proc_exit (i32.load (i32.const 8)))))`;
    const r = await run(wat, { maxOutputBytes: 10 });
    expect(r.exitCode).toBe(50);
    expect(r.stdout).toHaveLength(10);
  });

  it('allows exactly hardOutputBytes of attempts across both streams', async () => {
    const r = await run(FLOOD, { maxOutputBytes: 10, hardOutputBytes: 1000 }, flood(1, 100, 10));
    expect(r.error).toBeUndefined();
    expect(r.stdoutTruncated).toBe(true);
  });

  it('throws OutputLimitExceeded one byte past hardOutputBytes, keeping what fit', async () => {
    const r = await run(FLOOD, { maxOutputBytes: 50, hardOutputBytes: 1000 }, flood(2, 1001, 1));
    expect(r.error).toBeInstanceOf(OutputLimitExceeded);
    expect(r.stderr).toBe('x'.repeat(50));
    const r2 = await run(FLOOD, { maxOutputBytes: 50, hardOutputBytes: 1000 }, flood(1, 1, 100_000));
    expect(r2.error).toBeInstanceOf(OutputLimitExceeded);
  });
});

/** Prints realtime, monotonic (u64 LE each) and 16 random bytes, then sleeps 1 s by poll and prints realtime again. */
const CLOCKS = `(module ${imp('clock_time_get')} ${imp('random_get')} ${imp('fd_write')} ${imp('poll_oneoff')}
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 1000)))
    (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 1008)))
    (drop (call $random_get (i32.const 1016) (i32.const 16)))
    ;; subscription @200: userdata 7, clock, id monotonic, timeout 1 s relative
    (i64.store (i32.const 200) (i64.const 7)) (i32.store8 (i32.const 208) (i32.const 0))
    (i32.store (i32.const 216) (i32.const 1)) (i64.store (i32.const 224) (i64.const 1000000000))
    (drop (call $poll_oneoff (i32.const 200) (i32.const 300) (i32.const 1) (i32.const 400)))
    (drop (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 1032)))
    (i32.store (i32.const 0) (i32.const 1000)) (i32.store (i32.const 4) (i32.const 40))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`;

describe('wasi host: clocks, random, poll', () => {
  it('deterministic mode: same seed and epoch give byte-identical output; another seed differs', async () => {
    const det = { seed: 12345, epochMs: 1_700_000_000_000 };
    const t0 = performance.now();
    const a = await run(CLOCKS, { deterministic: det });
    const b = await run(CLOCKS, { deterministic: det });
    expect(performance.now() - t0).toBeLessThan(900); // the 1 s poll did not really sleep
    expect(a.stdoutBytes).toEqual(b.stdoutBytes);
    const v = new DataView(a.stdoutBytes.buffer, a.stdoutBytes.byteOffset);
    expect(v.getBigUint64(0, true)).toBe(1_700_000_000_000n * 1_000_000n); // realtime starts at epochMs
    expect(v.getBigUint64(8, true)).toBe(1_000_000n); // monotonic from 0, one 1 ms step later
    expect(v.getBigUint64(32, true)).toBe(1_700_000_000_000n * 1_000_000n + 2_000_000n + 1_000_000_000n);
    const c = await run(CLOCKS, { deterministic: { ...det, seed: 54321 } });
    expect(c.stdoutBytes.subarray(16, 32)).not.toEqual(a.stdoutBytes.subarray(16, 32));
    expect(c.stdoutBytes.subarray(0, 16)).toEqual(a.stdoutBytes.subarray(0, 16));
  });

  it('real mode: realtime is now, random bytes differ between runs', async () => {
    const [a, b] = [await run(CLOCKS), await run(CLOCKS)];
    const now = BigInt(Date.now()) * 1_000_000n;
    const rt = new DataView(a.stdoutBytes.buffer, a.stdoutBytes.byteOffset).getBigUint64(0, true);
    expect(rt > now - 60_000_000_000n && rt <= now + 1_000_000n).toBe(true);
    expect(a.stdoutBytes.subarray(16, 32)).not.toEqual(b.stdoutBytes.subarray(16, 32));
  });

  it('monotonic clock never goes backwards', async () => {
    const wat = `(module ${imp('clock_time_get')} ${imp('proc_exit')}
      (memory (export "memory") 1)
      (func (export "_start") (local $i i32) (local $prev i64)
        (loop $next
          (drop (call $clock_time_get (i32.const 1) (i64.const 0) (i32.const 0)))
          (if (i64.lt_u (i64.load (i32.const 0)) (local.get $prev)) (then (call $proc_exit (i32.const 1))))
          (local.set $prev (i64.load (i32.const 0)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $next (i32.lt_u (local.get $i) (i32.const 10000))))))`;
    expect((await run(wat)).exitCode).toBe(0);
    expect((await run(wat, { deterministic: { seed: 1, epochMs: 0 } })).exitCode).toBe(0);
  });

  it('poll_oneoff really sleeps about the requested time (relative and absolute)', async () => {
    const sleep = (abs: boolean) => `(module ${imp('poll_oneoff')} ${imp('clock_time_get')} ${imp('proc_exit')}
      (memory (export "memory") 1)
      (func (export "_start")
        (drop (call $clock_time_get (i32.const 1) (i64.const 0) (i32.const 500)))
        (i64.store (i32.const 0) (i64.const 99)) (i32.store8 (i32.const 8) (i32.const 0))
        (i32.store (i32.const 16) (i32.const 1))
        (i64.store (i32.const 24) ${abs ? '(i64.add (i64.load (i32.const 500)) (i64.const 60000000))' : '(i64.const 60000000)'})
        (i32.store16 (i32.const 40) (i32.const ${abs ? 1 : 0}))
        (drop (call $poll_oneoff (i32.const 0) (i32.const 100) (i32.const 1) (i32.const 200)))
        ;; one event, userdata 99, no error, type clock
        (if (i32.ne (i32.load (i32.const 200)) (i32.const 1)) (then (call $proc_exit (i32.const 1))))
        (if (i64.ne (i64.load (i32.const 100)) (i64.const 99)) (then (call $proc_exit (i32.const 2))))
        (if (i32.load16_u (i32.const 108)) (then (call $proc_exit (i32.const 3))))))`;
    for (const abs of [false, true]) {
      const t0 = performance.now();
      const r = await run(sleep(abs));
      const ms = performance.now() - t0;
      expect(r.exitCode).toBe(0);
      expect(ms).toBeGreaterThanOrEqual(55);
      expect(ms).toBeLessThan(2000);
    }
  });
});
