import wabtInit from 'wabt';
import { beforeAll, describe, expect, it } from 'vitest';
import { WASI_HOST } from '../../src/runtime/cache.js';
import { inspectModule, InvalidModuleError } from '../../src/runtime/module/index.js';
import type { ImportKind } from '../../src/runtime/types.js';
import { WASI_SIGNATURES } from '../../src/runtime/wasi/index.js';
import { loadComponent } from '../helpers/fixtures.js';

let wabt: Awaited<ReturnType<typeof wabtInit>>;
beforeAll(async () => {
  wabt = await wabtInit();
});

function wat(src: string, features: Record<string, boolean> = {}): Uint8Array {
  const m = wabt.parseWat('test.wat', src, features);
  try {
    return new Uint8Array(m.toBinary({}).buffer);
  } finally {
    m.destroy();
  }
}

const WASI = new Set(['fd_write', 'proc_exit', 'args_get', 'args_sizes_get', 'clock_time_get', 'random_get']);
const provides = (module: string, name: string, kind: ImportKind) =>
  module === 'wasi_snapshot_preview1' && kind === 'function' && WASI.has(name);
// The WASI host's own types: a few names provided, every one typed as preview 1 defines it.
const inspect = (bytes: Uint8Array, host = { provides, signature: WASI_HOST.signature }) => inspectModule(bytes, { digest: 'd1', ...host });

function rejection(bytes: Uint8Array, host?: Parameters<typeof inspect>[1]): InvalidModuleError {
  try {
    inspect(bytes, host);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidModuleError);
    expect((err as InvalidModuleError).code).toBe('INVALID_MODULE');
    return err as InvalidModuleError;
  }
  throw new Error('expected an InvalidModuleError');
}

const START = '(func (export "_start"))';

describe('inspectModule: rejections', () => {
  it('rejects bytes that are not WebAssembly', () => {
    expect(rejection(new TextEncoder().encode('#!/bin/sh\necho hi\n')).message).toMatch(/not a WebAssembly module/);
    expect(rejection(new Uint8Array(0)).message).toMatch(/not a WebAssembly module/);
  });

  it('names what a component imports that Spindle does not provide, and leaves a WASI 0.2 command to the runtime', async () => {
    expect(rejection(await loadComponent('foreign_import')).message).toMatch(/^component imports what Spindle does not provide: "wasi:sockets\/tcp@0.2.3", "phone-home";/);
    expect(rejection(await loadComponent('not_command')).message).toMatch(/^component is not a WASI command: it must export wasi:cli\/run@0.2.x/);
    expect(rejection(await loadComponent('hostile_names')).message).toMatch(/^component has core import or export names with characters Spindle does not accept/);
    expect(rejection(await loadComponent('copy.component')).message).toMatch(/^this is a WASI 0.2 command component: it is inspected by the runtime/);
  });

  it('rejects a truncated module with the validator message', () => {
    const bytes = wat(`(module (memory 1) ${START} (func (export "f") (result i32) i32.const 42))`);
    const err = rejection(bytes.subarray(0, bytes.length - 3));
    expect(err.message).toMatch(/^malformed module/);
  });

  it('rejects a body that does not type-check, naming the function', () => {
    const bytes = wat(`(module ${START} (func (result i32) i32.const 1))`);
    const bad = bytes.slice();
    bad[bad.length - 3] = 0x42; // i32.const -> i64.const: the body now returns an i64
    expect(rejection(bad).message).toMatch(/^malformed module: .*function #1/);
  });

  it('rejects a module without _start (a reactor or a library)', () => {
    expect(rejection(wat('(module (func (export "main")))')).message).toMatch(/not a WASI command.*"_start"/);
    expect(rejection(wat('(module (global (export "_start") i32 (i32.const 0)))')).message).toMatch(/not a WASI command/);
  });

  it('rejects a _start with parameters or results', () => {
    expect(rejection(wat('(module (func (export "_start") (param i32)))')).message).toMatch(/"_start" must take no parameters/);
  });

  it('names every import the host does not provide', () => {
    const err = rejection(
      wat(`(module
        (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))
        (import "env" "__stack_pointer" (global (mut i32)))
        ${START})`),
    );
    expect(err.message).toContain('"wasi_snapshot_preview1"."sock_accept" (function)');
    expect(err.message).toContain('"env"."__stack_pointer" (global)');
    expect(err.message).not.toContain('fd_write');
    expect(err.details.missingImports).toHaveLength(2);
  });

  it('rejects two memories', () => {
    const err = rejection(wat(`(module (memory 1) (memory 1) ${START})`, { multi_memory: true }));
    expect(err.message).toMatch(/2 memories; multi-memory is not supported/);
  });

  it('rejects memory64', () => {
    expect(rejection(wat(`(module (memory i64 1) ${START})`, { memory64: true })).message).toMatch(/memory64/);
  });

  it('rejects shared memory', () => {
    expect(rejection(wat(`(module (memory 1 2 shared) ${START})`, { threads: true })).message).toMatch(/shared memory/);
  });

  it('rejects exports under the reserved __spindle_ prefix', () => {
    const err = rejection(wat(`(module (global (export "__spindle_fuel") i64 (i64.const 0)) ${START})`));
    expect(err.message).toMatch(/"__spindle_fuel" is reserved/);
  });

  it('rejects an export whose name holds NUL (a name must be storable text); other odd names pass', () => {
    const err = rejection(wat(`(module (func (export "f\\00g")) ${START})`));
    expect(err.message).toBe('export name "f\\u0000g" contains NUL (U+0000); export names must be storable text');
    expect(inspect(wat(`(module (func (export "f\\01g \\u{1F600}")) ${START})`)).exports.map((e) => e.name)).toContain('f\u0001g \u{1F600}');
  });
});

describe('inspectModule: what it reports', () => {
  it('lists imports, exports, the memory and isCommand', () => {
    const bytes = wat(`(module
      (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
      (memory (export "memory") 2 16)
      (table (export "table") 1 funcref)
      (global (export "g") i32 (i32.const 7))
      ${START})`);
    expect(inspect(bytes)).toEqual({
      digest: 'd1',
      size: bytes.length,
      format: 'module',
      imports: [
        { module: 'wasi_snapshot_preview1', name: 'fd_write', kind: 'function' },
        { module: 'wasi_snapshot_preview1', name: 'proc_exit', kind: 'function' },
      ],
      exports: [
        { name: 'memory', kind: 'memory' },
        { name: 'table', kind: 'table' },
        { name: 'g', kind: 'global' },
        { name: '_start', kind: 'function' },
      ],
      memory: { initialPages: 2, maximumPages: 16, imported: false },
      tableElements: 1,
      isCommand: true,
    });
  });

  it('counts the initial elements of all tables together (what instantiation allocates), not their maximum', () => {
    expect(inspect(wat(`(module (table 3 funcref) (table 4 1000 externref) (memory 1) ${START})`)).tableElements).toBe(7);
    expect(inspect(wat(`(module (memory 1) ${START})`)).tableElements).toBe(0);
  });

  it('accepts an imported memory under any name (it is renamed to spindle.memory) and reports it', () => {
    const info = inspect(wat(`(module (import "env" "memory" (memory 1)) ${START})`));
    expect(info.imports).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    expect(info.memory).toEqual({ initialPages: 1, maximumPages: null, imported: true });
  });

  it('reports no memory for a module without one, and accepts a start section', () => {
    const info = inspect(wat(`(module (func $init) (start $init) ${START})`));
    expect(info.memory).toBeNull();
    expect(info.isCommand).toBe(true);
  });
});

const wasi = (name: string, type: string) => `(import "wasi_snapshot_preview1" "${name}" (func ${type}))`;
/** A command importing `imports` (WAT import fields) and calling none of them. */
const importing = (...imports: string[]) => `(module ${imports.join(' ')} (memory 1) ${START})`;

describe('inspectModule: imported WASI function types', () => {
  it('refuses a wrong parameter type, naming the import, its type and the one WASI defines', () => {
    const err = rejection(wat(importing(wasi('clock_time_get', '(param i32 i32 i32) (result i32)'))));
    expect(err.message).toBe(
      'import wasi_snapshot_preview1.clock_time_get has type (i32, i32, i32) -> i32, wasi_snapshot_preview1 defines (i32, i64, i32) -> i32',
    );
    expect(err.details.mistypedImports).toEqual([
      { module: 'wasi_snapshot_preview1', name: 'clock_time_get', declared: '(i32, i32, i32) -> i32', expected: '(i32, i64, i32) -> i32' },
    ]);
  });

  it('refuses a wrong parameter count', () => {
    expect(rejection(wat(importing(wasi('fd_write', '(param i32 i32 i32) (result i32)')))).message).toBe(
      'import wasi_snapshot_preview1.fd_write has type (i32, i32, i32) -> i32, wasi_snapshot_preview1 defines (i32, i32, i32, i32) -> i32',
    );
    expect(rejection(wat(importing(wasi('fd_write', '')))).message).toContain('has type () -> ()');
  });

  it('refuses a wrong result: an i64 errno, a missing errno, a result where proc_exit has none', () => {
    // The fuzz mutant "bitFlip of random_clock" (seed 0x5eed, case 10976): one bit turned the
    // errno into an i64, and every run ended host_error "Cannot convert 0 to a BigInt".
    expect(rejection(wat(importing(wasi('random_get', '(param i32 i32) (result i64)')))).message).toBe(
      'import wasi_snapshot_preview1.random_get has type (i32, i32) -> i64, wasi_snapshot_preview1 defines (i32, i32) -> i32',
    );
    expect(rejection(wat(importing(wasi('random_get', '(param i32 i32)')))).message).toContain('has type (i32, i32) -> ()');
    expect(rejection(wat(importing(wasi('proc_exit', '(param i32) (result i32)')))).message).toBe(
      'import wasi_snapshot_preview1.proc_exit has type (i32) -> i32, wasi_snapshot_preview1 defines (i32) -> ()',
    );
  });

  it('names types JS cannot even convert (v128, references, several results)', () => {
    const err = rejection(
      wat(
        importing(
          wasi('fd_write', '(param i32 i32 i32 i32) (result v128)'),
          wasi('args_get', '(param externref i32) (result i32)'),
          wasi('proc_exit', '(param i32) (result i32 i32)'),
        ),
        { simd: true, reference_types: true, multi_value: true },
      ),
    );
    expect(err.message).toMatch(/^module imports 3 functions with the wrong type: /);
    expect(err.message).toContain('fd_write has type (i32, i32, i32, i32) -> v128,');
    expect(err.message).toContain('args_get has type (externref, i32) -> i32,');
    expect(err.message).toContain('proc_exit has type (i32) -> (i32, i32),');
    expect(err.details.mistypedImports).toHaveLength(3);
  });

  it('names a missing import before a mistyped one', () => {
    const err = rejection(wat(importing(wasi('sock_accept', '(param i32 i32 i32) (result i32)'), wasi('fd_write', ''))));
    expect(err.message).toMatch(/does not provide: "wasi_snapshot_preview1"."sock_accept"/);
  });

  it('accepts every preview 1 function imported with the type WASI defines', () => {
    const valtypes = (s: string) => [...s].map((c) => (c === 'I' ? 'i64' : 'i32')).join(' ');
    const all = Object.entries(WASI_SIGNATURES).map(([name, s]) =>
      wasi(name, `(param ${valtypes(s.params)}) ${s.results ? `(result ${valtypes(s.results)})` : ''}`),
    );
    expect(all).toHaveLength(46);
    expect(inspect(wat(importing(...all)), WASI_HOST).imports).toHaveLength(46);
    expect(inspect(wat(importing(wasi('clock_time_get', '(param i32 i64 i32) (result i32)'), wasi('proc_exit', '(param i32)')))).imports).toHaveLength(2);
  });

  it('refuses a table, global or tag from wasi_snapshot_preview1 (preview 1 exports only functions); a memory is renamed like any other', () => {
    const err = rejection(
      wat(
        `(module
          (import "wasi_snapshot_preview1" "table" (table 1 funcref))
          (import "wasi_snapshot_preview1" "global" (global i32))
          (import "wasi_snapshot_preview1" "tag" (tag))
          ${START})`,
        { exceptions: true },
      ),
      WASI_HOST,
    );
    expect(err.details.missingImports).toEqual([
      { module: 'wasi_snapshot_preview1', name: 'table', kind: 'table' },
      { module: 'wasi_snapshot_preview1', name: 'global', kind: 'global' },
      { module: 'wasi_snapshot_preview1', name: 'tag', kind: 'tag' },
    ]);
    const info = inspect(wat(`(module (import "wasi_snapshot_preview1" "memory" (memory 1)) ${START})`), WASI_HOST);
    expect(info.memory).toEqual({ initialPages: 1, maximumPages: null, imported: true });
  });

  it('leaves the type of a function the host does not fix alone', () => {
    const host = { provides: () => true, signature: () => undefined };
    expect(inspect(wat(importing('(import "env" "f" (func (param f64) (result v128)))'), { simd: true }), host).imports).toHaveLength(1);
  });
});
