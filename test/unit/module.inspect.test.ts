import wabtInit from 'wabt';
import { beforeAll, describe, expect, it } from 'vitest';
import { inspectModule, InvalidModuleError } from '../../src/runtime/module/index.js';
import type { ImportKind } from '../../src/runtime/types.js';

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

const WASI = new Set(['fd_write', 'proc_exit', 'args_get', 'args_sizes_get']);
const provides = (module: string, name: string, kind: ImportKind) =>
  module === 'wasi_snapshot_preview1' && kind === 'function' && WASI.has(name);
const inspect = (bytes: Uint8Array) => inspectModule(bytes, { digest: 'd1', provides });

function rejection(bytes: Uint8Array): InvalidModuleError {
  try {
    inspect(bytes);
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
      isCommand: true,
    });
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
