/**
 * Named test modules. WAT fixtures (test/fixtures/wat/NAME.wat) are compiled with the `wabt`
 * package on first use; C fixtures (test/fixtures/c/NAME.wasm) are prebuilt by
 * test/fixtures/c/build.sh and committed. Both are cached per process.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';
import type { ModuleRef, RunRequest } from '../../src/runtime/types.js';

const fixturesDir = fileURLToPath(new URL('../fixtures/', import.meta.url));

let wabtPromise: ReturnType<typeof wabtInit> | undefined;
const watCache = new Map<string, Promise<Uint8Array>>();
const wasmCache = new Map<string, Promise<Uint8Array>>();

/** Compiles WAT source text to a binary module (`features`: wabt's, added to the defaults). */
export async function watToWasm(source: string, name = 'inline.wat', features: Record<string, boolean> = {}): Promise<Uint8Array> {
  const wabt = await (wabtPromise ??= wabtInit());
  const parsed = wabt.parseWat(name, source, { bulk_memory: true, sign_extension: true, mutable_globals: true, tail_call: true, exceptions: true, ...features });
  try {
    parsed.validate();
    return new Uint8Array(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}

/** test/fixtures/wat/NAME.wat, compiled. */
export function loadWat(name: string): Promise<Uint8Array> {
  let bytes = watCache.get(name);
  if (!bytes) {
    bytes = readFile(`${fixturesDir}wat/${name}.wat`, 'utf8').then((src) => watToWasm(src, `${name}.wat`));
    watCache.set(name, bytes);
  }
  return bytes;
}

/** test/fixtures/c/NAME.wasm, as built by build.sh. */
export function loadWasm(name: string): Promise<Uint8Array> {
  let bytes = wasmCache.get(name);
  if (!bytes) {
    bytes = readFile(`${fixturesDir}c/${name}.wasm`).then((b) => new Uint8Array(b));
    wasmCache.set(name, bytes);
  }
  return bytes;
}

/** test/fixtures/components/NAME.wasm, as built by that folder's build.sh (a C fixture made a component: `NAME.component`). */
export async function loadComponent(name: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(`${fixturesDir}components/${name}.wasm`));
}

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A ModuleRef (digest + bytes) for a WAT fixture. */
export async function watRef(name: string): Promise<ModuleRef> {
  const bytes = await loadWat(name);
  return { digest: sha256Hex(bytes), bytes };
}

/** A ModuleRef (digest + bytes) for a prebuilt C fixture. */
export async function wasmRef(name: string): Promise<ModuleRef> {
  const bytes = await loadWasm(name);
  return { digest: sha256Hex(bytes), bytes };
}

/** Not a module at all: a valid magic number followed by garbage. */
export function malformedBytes(): Uint8Array {
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0x0f, 0x60]);
}

/** Generous limits for tests that are not about limits. */
export const TEST_LIMITS = { timeoutMs: 10_000, memoryBytes: 64 << 20, maxOutputBytes: 1 << 20 } as const;

/** A run request with empty stdin/args/env and TEST_LIMITS, overridable piecewise. */
export function runRequest(
  module: ModuleRef,
  over: Partial<Omit<RunRequest, 'module' | 'limits'>> & { limits?: Partial<RunRequest['limits']> } = {},
): RunRequest {
  const { limits, ...rest } = over;
  return { module, args: [], env: {}, stdin: new Uint8Array(0), ...rest, limits: { ...TEST_LIMITS, ...limits } };
}

export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
