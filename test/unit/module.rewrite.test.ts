import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import wabtInit from 'wabt';
import { beforeAll, describe, expect, it } from 'vitest';
import { WASI_HOST } from '../../src/runtime/cache.js';
import { inspectModule, InvalidModuleError, prepareModule } from '../../src/runtime/module/index.js';
import { tableMaximums } from '../../src/runtime/module/rewrite.js';

// The project's TypeScript lib carries no WebAssembly declarations.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const WA: any = (globalThis as any).WebAssembly;

let wabt: Awaited<ReturnType<typeof wabtInit>>;
beforeAll(async () => {
  wabt = await wabtInit();
});

const ALL = {
  simd: true, bulk_memory: true, reference_types: true, multi_value: true, sign_extension: true,
  sat_float_to_int: true, exceptions: true, tail_call: true, mutable_globals: true,
};

function wat(src: string, debugNames = false): Uint8Array {
  const m = wabt.parseWat('test.wat', src, ALL);
  try {
    return new Uint8Array(m.toBinary({ write_debug_names: debugNames }).buffer);
  } finally {
    m.destroy();
  }
}

/** Rewrite, check it validates, and instantiate the way the worker pool does. */
function instantiate(bytes: Uint8Array, opts: { fuel?: boolean; capPages?: number; imports?: object; maxTableElements?: number } = {}) {
  const prepared = prepareModule(bytes, { fuel: opts.fuel ?? false, maxTableElements: opts.maxTableElements });
  expect(WA.validate(prepared.bytes)).toBe(true);
  const mem = prepared.memory;
  const memory = mem
    ? new WA.Memory({ initial: mem.initialPages, maximum: Math.min(mem.maximumPages ?? 65536, opts.capPages ?? 65536) })
    : undefined;
  const module = new WA.Module(prepared.bytes);
  const instance = new WA.Instance(module, { spindle: { memory }, ...opts.imports });
  return { prepared, module, memory, exports: instance.exports };
}

describe('prepareModule: the memory becomes spindle.memory', () => {
  const src = `(module
    (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
    (memory (export "memory") 1 4)
    (data (i32.const 16) "hello")
    (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
    (func (export "_start")))`;
  const wasi = { wasi_snapshot_preview1: { proc_exit() {} } };

  it('moves a defined memory into the import section with its limits', () => {
    const { prepared, module, memory, exports } = instantiate(wat(src), { imports: wasi });
    expect(prepared.memory).toEqual({ initialPages: 1, maximumPages: 4 });
    expect(WA.Module.imports(module)).toContainEqual({ module: 'spindle', name: 'memory', kind: 'memory' });
    expect(exports.memory).toBe(memory); // the export of the memory still works: it is the host's object
    expect(String.fromCharCode(...new Uint8Array(memory.buffer, 16, 5))).toBe('hello');
    expect(exports.load(17)).toBe('e'.charCodeAt(0));
  });

  it('keeps the declared maximum: a larger memory does not link', () => {
    const module = new WA.Module(prepareModule(wat(src), { fuel: false }).bytes);
    const memory = new WA.Memory({ initial: 1, maximum: 5 });
    expect(() => new WA.Instance(module, { spindle: { memory }, ...wasi })).toThrow(WA.LinkError);
  });

  it('reuses a zero-filled memory: data segments are written again at instantiation', () => {
    const { module, memory, exports } = instantiate(wat(src), { imports: wasi });
    new Uint8Array(memory.buffer).fill(0xaa, 0, 64);
    new Uint8Array(memory.buffer).fill(0);
    const again = new WA.Instance(module, { spindle: { memory }, ...wasi });
    expect(again.exports.load(16)).toBe('h'.charCodeAt(0));
    expect(exports.load(40)).toBe(0);
  });

  it('renames an imported env.memory and keeps its limits', () => {
    const { prepared, module, exports } = instantiate(
      wat(`(module (import "env" "memory" (memory 2 8))
        (func (export "size") (result i32) memory.size) (func (export "_start")))`),
    );
    expect(prepared.memory).toEqual({ initialPages: 2, maximumPages: 8 });
    expect(WA.Module.imports(module)).toEqual([{ module: 'spindle', name: 'memory', kind: 'memory' }]);
    expect(exports.size()).toBe(2);
  });

  it('creates the type, import, function, global, export and code sections a module lacks', () => {
    const { prepared, module, exports } = instantiate(wat('(module (memory 1 2))'), { fuel: true });
    expect(prepared.memory).toEqual({ initialPages: 1, maximumPages: 2 });
    expect(WA.Module.imports(module)).toEqual([{ module: 'spindle', name: 'memory', kind: 'memory' }]);
    expect(exports.__spindle_grow_failed.value).toBe(0);
  });

  it('handles a module without memory', () => {
    const { prepared, exports } = instantiate(wat('(module (func (export "_start")))'));
    expect(prepared.memory).toBeNull();
    expect(exports.__spindle_grow_failed.value).toBe(0);
  });
});

describe('prepareModule: memory.grow is observed', () => {
  // Grows one page at a time until memory.grow answers -1; returns the number of successes.
  const src = `(module (memory 1 100)
    (func $grow_all (export "grow_all") (result i32) (local $n i32)
      (block $done (loop $again
        (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $again)))
      (local.get $n))
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
    (func (export "_start")))`;

  it('lets a guest grow to the cap, then sees -1 and raises __spindle_grow_failed', () => {
    const { prepared, memory, exports } = instantiate(wat(src), { capPages: 3 });
    expect(prepared.exports.growFailed).toBe('__spindle_grow_failed');
    expect(exports.__spindle_grow_failed.value).toBe(0);
    expect(exports.grow_all()).toBe(2);
    expect(exports.__spindle_grow_failed.value).toBe(1);
    expect(memory.buffer.byteLength).toBe(3 * 65536);
  });

  it('leaves the flag down while growth succeeds, and returns the old size', () => {
    const { exports } = instantiate(wat(src), { capPages: 10 });
    expect(exports.grow(2)).toBe(1);
    expect(exports.grow(0)).toBe(3);
    expect(exports.__spindle_grow_failed.value).toBe(0);
    expect(exports.grow(100)).toBe(-1);
    expect(exports.__spindle_grow_failed.value).toBe(1);
  });
});

describe('prepareModule: tables hold at most maxTableElements together', () => {
  const limits = (min: number, max: number | null) => ({ flags: max === null ? 0 : 1, min, max, start: 0, end: 0 });

  it('shares what the limit leaves after the initial sizes, and gives a small declared maximum no more', () => {
    expect(tableMaximums([limits(10, null)], 1000)).toEqual([1000]);
    expect(tableMaximums([limits(0, null), limits(0, null)], 1000)).toEqual([500, 500]);
    // The table that may grow by 100 at most keeps its maximum; the other gets the rest.
    expect(tableMaximums([limits(0, 100), limits(0, null)], 1000)).toEqual([100, 900]);
    // 3 to share between two: 1 and 2 (what an even split leaves goes to the last).
    expect(tableMaximums([limits(5, 5), limits(1, null), limits(2, null)], 11)).toEqual([5, 2, 4]);
    // Nothing left (the initial sizes fill the limit, or pass it on an unregistered module): no growth.
    expect(tableMaximums([limits(600, null), limits(400, null)], 1000)).toEqual([600, 400]);
    expect(tableMaximums([limits(2000, null)], 1000)).toEqual([2000]);
  });

  // Grows table $t by `by` and returns what table.grow answered (the old size, or -1).
  const src = `(module
    (table $a 10 funcref) (table $b 0 funcref) (table $c 0 5 externref)
    (func (export "grow_a") (param i32) (result i32) (table.grow $a (ref.null func) (local.get 0)))
    (func (export "grow_b") (param i32) (result i32) (table.grow $b (ref.null func) (local.get 0)))
    (func (export "grow_c") (param i32) (result i32) (table.grow $c (ref.null extern) (local.get 0)))
    (func (export "size_a") (result i32) (table.size $a))
    (func (export "_start")))`;

  it('lets each table grow to its share exactly, and answers -1 one element beyond', () => {
    // 1000 - 10 initial = 990 to share: $c may take 5 at most, then $a 492 and $b the 493 left.
    const { exports } = instantiate(wat(src), { maxTableElements: 1000 });
    expect(exports.grow_c(5)).toBe(0);
    expect(exports.grow_c(1)).toBe(-1);
    expect(exports.grow_a(492)).toBe(10);
    expect(exports.grow_a(1)).toBe(-1);
    expect(exports.size_a()).toBe(502);
    expect(exports.grow_b(494)).toBe(-1);
    expect(exports.grow_b(493)).toBe(0);
    expect(exports.grow_b(1)).toBe(-1);
  });

  it('caps a table that declares no maximum at the default (1,000,000) when no limit is given', () => {
    const { exports } = instantiate(wat(src));
    // 999,990 to share: $c 5, $a 499,992, $b 499,993.
    expect(exports.grow_b(10_000_000)).toBe(-1);
    expect(exports.grow_b(499_993)).toBe(0);
    expect(exports.grow_b(1)).toBe(-1);
  });

  it('keeps element segments and call_indirect working under a limit the table fills', () => {
    const bytes = wat(`(module (type $v (func (result i32)))
      (table 2 funcref) (elem (i32.const 0) $one $two)
      (func $one (result i32) (i32.const 1)) (func $two (result i32) (i32.const 2))
      (func (export "call") (param i32) (result i32) (call_indirect (type $v) (local.get 0)))
      (func (export "_start")))`);
    const { exports } = instantiate(bytes, { maxTableElements: 2 });
    expect([exports.call(0), exports.call(1)]).toEqual([1, 2]);
  });
});

describe('prepareModule: every instruction family survives the rewrite', () => {
  const features = `(module
    (memory (export "memory") 1)
    (table $t 2 funcref)
    (elem (i32.const 0) $seven $eight)
    (type $v (func (result i32)))
    (tag $oops (param i32))
    (func $seven (result i32) i32.const 7)
    (func $eight (result i32) i32.const 8)
    (func $pair (result i32 i64) i32.const 3 i64.const 4)
    (func $tail (param i32) (result i32) (return_call $seven))
    (func (export "simd") (result i32)
      (v128.store (i32.const 64) (i32x4.add (v128.const i32x4 1 2 3 4) (i32x4.splat (i32.const 10))))
      (i32x4.extract_lane 3 (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
        (v128.load offset=0 align=4 (i32.const 64)) (v128.const i64x2 0 0)))
      (i32.add (v128.any_true (v128.load32_lane 1 (i32.const 64) (v128.const i64x2 0 0)))))
    (func (export "bulk") (result i32)
      (memory.fill (i32.const 200) (i32.const 9) (i32.const 16))
      (memory.copy (i32.const 300) (i32.const 200) (i32.const 16))
      (i32.load8_u (i32.const 315)))
    (func (export "multi") (result i32)
      (call $pair) (i32.wrap_i64) (i32.add)
      (block (param i32) (result i32) (i32.const 2) (i32.mul)))
    (func (export "refs") (result i32)
      (call_indirect (type $v) (i32.const 1))
      (select (result i32) (i32.const 100) (i32.const 200) (ref.is_null (table.get $t (i32.const 0))))
      (i32.add) (i32.add (table.size $t)))
    (func (export "numeric") (result i32)
      (i32.add (i32.extend8_s (i32.const 0xff)) (i32.trunc_sat_f32_s (f32.const 1e20))))
    (func (export "eh") (result i32)
      (try (result i32) (do (throw $oops (i32.const 41))) (catch $oops (i32.add (i32.const 1)))))
    (func (export "tail") (result i32) (call $tail (i32.const 0)))
    (func (export "_start")))`;
  const cases: [string, number][] = [
    ['simd', 14 + 1], ['bulk', 9], ['multi', 14], ['refs', 8 + 200 + 2],
    ['numeric', -1 + 2147483647], ['eh', 42], ['tail', 7],
  ];

  it.each([false, true])('computes the same results (fuel: %s)', (fuel) => {
    const original = new WA.Instance(new WA.Module(wat(features)), {}).exports;
    const { exports } = instantiate(wat(features), { fuel });
    if (fuel) exports.__spindle_fuel.value = 1_000_000n;
    for (const [name, expected] of cases) {
      expect(original[name](), name).toBe(expected);
      expect(exports[name](), name).toBe(expected);
    }
  });

  it('keeps the name section and other custom sections', () => {
    const { module } = instantiate(wat(features, true), { fuel: true });
    expect(WA.Module.customSections(module, 'name')).toHaveLength(1);
  });

  it('decodes what V8 does not run yet (try_table, relaxed SIMD, atomics): wabt re-reads the output', () => {
    const more = { ...ALL, relaxed_simd: true, threads: true };
    const m0 = wabt.parseWat('test.wat', `(module (tag $e) (memory 1)
      (func (export "_start") (block $b (try_table (catch_all $b) (loop (throw $e)))))
      (func (result i32)
        (drop (i32x4.relaxed_trunc_f32x4_s (v128.const i32x4 0 0 0 0)))
        (atomic.fence)
        (i32.atomic.rmw.add offset=8 (i32.const 0) (i32.const 1))
        (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))))`, more);
    const bytes = new Uint8Array(m0.toBinary({}).buffer);
    m0.destroy();
    const out = prepareModule(bytes, { fuel: true }).bytes;
    const m = wabt.readWasm(out, { readDebugNames: false, ...more });
    try {
      m.validate();
      expect(m.toText({})).toMatch(/try_table[\s\S]*loop[\s\S]*global\.set[\s\S]*i32\.atomic\.rmw\.add offset=8/);
    } finally {
      m.destroy();
    }
  });

  it('names the offset of an unknown opcode', () => {
    const bytes = wat('(module (func (export "_start") nop))');
    const at = bytes.lastIndexOf(0x01); // the nop, just before the final end
    const bad = bytes.slice();
    bad[at] = 0x27; // no instruction has this opcode
    expect(() => prepareModule(bad, { fuel: false })).toThrow(InvalidModuleError);
    expect(() => prepareModule(bad, { fuel: false })).toThrow(`unknown or unsupported opcode 0x27 at offset ${at}`);
  });

  it('never breaks a module V8 accepts, and rejects garbage only with InvalidModuleError (seeded mutations)', () => {
    const base = wat(features);
    let seed = 20261121;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    let stillValid = 0;
    for (let i = 0; i < 600; i++) {
      const bytes = base.slice();
      for (let k = 1 + Math.floor(random() * 3); k > 0; k--) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      const valid = WA.validate(bytes) as boolean;
      for (const fuel of [false, true]) {
        let out: Uint8Array;
        try {
          out = prepareModule(bytes, { fuel }).bytes;
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidModuleError);
          continue;
        }
        if (valid) {
          stillValid++;
          expect(WA.validate(out), `mutation ${i}`).toBe(true);
        }
      }
    }
    expect(stillValid).toBeGreaterThan(50); // the mutations do reach valid modules
  });

  it('fails fast on an absurd immediate count instead of looping over it', { timeout: 5000 }, () => {
    const body = [0x00, 0x1c, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x0b]; // select with 2^32 - 1 result types
    const bytes = Uint8Array.from([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
      0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
      0x03, 0x02, 0x01, 0x00, // function section
      0x0a, body.length + 2, 0x01, body.length, ...body, // code section
    ]);
    expect(() => prepareModule(bytes, { fuel: true })).toThrow(InvalidModuleError);
  });

  it('refuses to rewrite a module twice (its exports are reserved)', () => {
    const once = prepareModule(wat('(module (memory 1) (func (export "_start")))'), { fuel: true });
    expect(() => prepareModule(once.bytes, { fuel: true })).toThrow(/reserved/);
  });

  it('with host, refuses what registration refuses: a mistyped or missing import, no _start, a _start with parameters', () => {
    const mistyped = wat(`(module
      (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i32 i32) (result i32)))
      (memory 1) (func (export "_start")))`);
    for (const fuel of [false, true]) {
      expect(() => prepareModule(mistyped, { fuel, host: WASI_HOST })).toThrow(
        'import wasi_snapshot_preview1.clock_time_get has type (i32, i32, i32) -> i32, wasi_snapshot_preview1 defines (i32, i64, i32) -> i32',
      );
    }
    expect(prepareModule(mistyped, { fuel: false }).bytes.length).toBeGreaterThan(0); // the rewriter itself does not care
    const missing = wat('(module (import "env" "f" (func)) (func (export "_start")))');
    expect(() => prepareModule(missing, { fuel: false, host: WASI_HOST })).toThrow('the host does not provide: "env"."f" (function)');
    expect(() => prepareModule(wat('(module (func (export "main")))'), { fuel: false, host: WASI_HOST })).toThrow(/not a WASI command/);
    // Called from JS, an i64 parameter would be a TypeError in the host, not a guest outcome.
    expect(() => prepareModule(wat('(module (func (export "_start") (param i64)))'), { fuel: false, host: WASI_HOST })).toThrow(
      '"_start" must take no parameters and return no results',
    );
  });
});

const fixtures = join(import.meta.dirname, '../fixtures/c');
const built = existsSync(fixtures) ? readdirSync(fixtures).filter((f) => f.endsWith('.wasm')) : [];

describe.skipIf(built.length === 0)('prepareModule: clang-built fixtures', () => {
  it.each(built)('%s is inspected and rewritten into a valid module', (file) => {
    const bytes = new Uint8Array(readFileSync(join(fixtures, file)));
    // The real host: wasi-libc's imports must match WASI_SIGNATURES exactly.
    const info = inspectModule(bytes, { digest: file, ...WASI_HOST });
    expect(info.isCommand).toBe(true);
    for (const fuel of [false, true]) {
      const prepared = prepareModule(bytes, { fuel, host: WASI_HOST });
      expect(WA.validate(prepared.bytes)).toBe(true);
      const imports = WA.Module.imports(new WA.Module(prepared.bytes));
      if (info.memory) expect(imports).toContainEqual({ module: 'spindle', name: 'memory', kind: 'memory' });
    }
  });
});

describe('prepareModule: one fuel budget shared by several modules (sharedFuel)', () => {
  const SOURCE = `(module
    (import "env" "base" (global $base i32))
    (import "env" "f" (func $f))
    (global $count (mut i32) (global.get $base))
    (global $seven i32 (i32.const 7))
    (memory 1)
    (func (export "_start")
      (global.set $count (i32.add (global.get $count) (global.get $seven)))
      (call $f))
    (export "count" (global $count))
    (export "base" (global $base)))`;

  it("imports the budget after the module's own global imports and renumbers the defined globals", () => {
    const p = prepareModule(wat(SOURCE), { fuel: true, sharedFuel: true });
    expect(p.exports.fuel).toBeNull();
    const module = new WA.Module(p.bytes);
    expect(WA.Module.imports(module)).toEqual([
      { module: 'env', name: 'base', kind: 'global' },
      { module: 'env', name: 'f', kind: 'function' },
      { module: 'spindle', name: 'memory', kind: 'memory' },
      { module: 'spindle', name: 'fuel', kind: 'global' },
    ]);
    // Another module charging the same budget: a call to an import is followed by a reload.
    const fuel = new WA.Global({ value: 'i64', mutable: true }, 1000n);
    const memory = new WA.Memory({ initial: 1 });
    const instance = new WA.Instance(module, {
      env: { base: new WA.Global({ value: 'i32' }, 35), f: () => (fuel.value = fuel.value - 100n) },
      spindle: { memory, fuel },
    });
    instance.exports._start();
    expect(instance.exports.count.value).toBe(42);
    expect(instance.exports.base.value).toBe(35);
    // _start: global.get, global.get, i32.add, global.set, call = 5; f took 100.
    expect(fuel.value).toBe(1000n - 5n - 100n);
  });

  it('needs fuel', () => {
    expect(() => prepareModule(wat(SOURCE), { fuel: false, sharedFuel: true })).toThrow(/sharedFuel needs fuel/);
  });

  it('refuses a module that imports from "spindle" itself (it could refill the shared budget)', () => {
    const own = wat('(module (import "spindle" "fuel" (global (mut i64))) (func (export "_start")))');
    expect(() => prepareModule(own, { fuel: true, sharedFuel: true })).toThrow(/import "spindle"."fuel" is reserved/);
    expect(() => prepareModule(own, { fuel: false })).toThrow(InvalidModuleError);
  });
});

