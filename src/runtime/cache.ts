/**
 * Compiled-module cache: inspect → rewrite (memory import, grow flag, optional fuel) → compile,
 * once per (digest, fuel on/off), LRU by digest. Failures are cached too: compiling the same
 * bytes again would fail the same way.
 *
 * `WebAssembly.compile` runs V8's compilation on background threads, so a large module does not
 * stall the event loop; only the (linear-time) rewrite runs on the main thread. Small modules
 * compile synchronously, which is faster than scheduling background tasks.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { compileComponent } from './component/compile.js';
import type { ComponentCode, Transpiled } from './component/code.js';
import { TranspileUnavailable } from './component/transpiler.js';
import { isComponent } from './component/world.js';
import { inspectModule, prepareModule, type HostImports, type Signature } from './module/index.js';
import { WASI_FUNCTIONS, WASI_SIGNATURES } from './wasi/index.js';
import type { ModuleInfo, ModuleRef } from './types.js';

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

const WASI_NAMES: ReadonlySet<string> = new Set<string>(WASI_FUNCTIONS);
const valtypes = (s: string) => [...s].map((c) => (c === 'I' ? 'i64' : 'i32'));
const WASI_TYPES: ReadonlyMap<string, Signature> = new Map(
  Object.entries(WASI_SIGNATURES).map(([name, s]) => [name, { params: valtypes(s.params), results: valtypes(s.results) }]),
);

/** What the host satisfies: every WASI preview 1 function the WASI host implements, with its preview 1 type. */
export const WASI_HOST: HostImports = {
  provides: (module, name, kind) => module === 'wasi_snapshot_preview1' && kind === 'function' && WASI_NAMES.has(name),
  signature: (module, name) => (module === 'wasi_snapshot_preview1' ? WASI_TYPES.get(name) : undefined),
};

export function inspectBytes(bytes: Uint8Array, digest = sha256Hex(bytes)): ModuleInfo {
  return inspectModule(bytes, { digest, ...WASI_HOST });
}

/** Modules up to this size are compiled synchronously (measured: ~5 ms for 300 KB vs ~13 ms async). */
const SYNC_COMPILE_BYTES = 512 * 1024;

export interface CompiledModule {
  /** Names this compiled module in the workers; never reused (an evicted module keeps its id). */
  id: number;
  /** A core module's code; null for a component (`component`). */
  module: WebAssembly.Module | null;
  /** A WASI 0.2 component's glue and core modules; null for a core module. */
  component: ComponentCode | null;
  memory: { initialPages: number; maximumPages: number | null } | null;
  growFailedExport: string;
  fuelExport: string | null;
  compileMs: number;
  /** Set once the cache dropped it: workers get it per run and do not keep it. */
  evicted: boolean;
}

/** `transient`: a failure of ours (a component's transpiler was unavailable), not cached, reported as host_error. */
export type CompileResult = { ok: true; compiled: CompiledModule } | { ok: false; error: string; transient?: boolean };

interface Entry {
  /** A component's transpiled form, shared by its two compiled variants. */
  transpiled?: Promise<Transpiled>;
  /** Settled results are stored unwrapped so a cache hit dispatches without awaiting. */
  plain?: CompileResult | Promise<CompileResult>;
  fueled?: CompileResult | Promise<CompileResult>;
}

// Checked before anything is cached, so wrong bytes cannot poison the right digest's entry.
const digestMatches = (ref: ModuleRef): boolean => ref.bytes !== undefined && sha256Hex(ref.bytes) === ref.digest;
const mismatch = (ref: ModuleRef): CompileResult => ({
  ok: false,
  error: `module digest mismatch: the bytes given for ${ref.digest} hash to something else`,
});

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

let nextId = 1;

export class ModuleCache {
  private readonly entries = new Map<string, Entry>();
  /** The most recently used digest (the last key of `entries`). */
  private newest: string | undefined;

  constructor(
    private readonly capacity: number,
    /** Called with the id of each compiled module dropped from the cache. */
    private readonly onEvict: (id: number) => void,
    /** Turns a component into glue and core modules (component/transpiler.ts). */
    private readonly transpile: (bytes: Uint8Array) => Promise<Transpiled>,
    /** Most elements a module's tables may hold together (prepareModule's `maxTableElements`). */
    private readonly maxTableElements?: number,
  ) {}

  get size(): number {
    let n = 0;
    for (const e of this.entries.values()) n += (e.plain ? 1 : 0) + (e.fueled ? 1 : 0);
    return n;
  }

  /**
   * The compiled module for `ref`, compiling it on a miss. Returns the settled result itself on
   * a hit, a promise otherwise; `undefined` when the digest is unknown and no bytes came along.
   */
  lookup(ref: ModuleRef, fuel: boolean): CompileResult | Promise<CompileResult> | undefined {
    let entry = this.entries.get(ref.digest);
    if (entry !== undefined) {
      // Refresh recency: Map iteration order is insertion order, so the first key is the LRU.
      // (Skipped when it is already the newest: runs of one module are the common case.)
      if (ref.digest !== this.newest) {
        this.entries.delete(ref.digest);
        this.entries.set(ref.digest, entry);
        this.newest = ref.digest;
      }
    } else {
      if (ref.bytes === undefined) return undefined;
      entry = {};
      this.entries.set(ref.digest, entry);
      this.newest = ref.digest;
      this.evictOverflow();
    }
    const slot = fuel ? 'fueled' : 'plain';
    const cached = entry[slot];
    if (cached !== undefined) return cached;
    if (ref.bytes === undefined) return undefined;
    if (!digestMatches(ref)) {
      if (entry.plain === undefined && entry.fueled === undefined) {
        this.entries.delete(ref.digest);
        this.newest = undefined;
      }
      return mismatch(ref);
    }
    const pending = this.compile(ref.digest, ref.bytes, fuel).then((result) => {
      if (entry[slot] === pending) entry[slot] = !result.ok && result.transient ? undefined : result;
      return result;
    });
    entry[slot] = pending;
    return pending;
  }

  private evictOverflow(): void {
    while (this.entries.size > this.capacity) {
      const [digest, entry] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(digest);
      for (const r of [entry.plain, entry.fueled]) {
        if (r === undefined) continue;
        void Promise.resolve(r).then((res) => {
          if (!res.ok) return;
          res.compiled.evicted = true;
          this.onEvict(res.compiled.id);
        });
      }
    }
  }

  private async compile(digest: string, bytes: Uint8Array, fuel: boolean): Promise<CompileResult> {
    const started = performance.now();
    if (isComponent(bytes)) return this.compileComponent(digest, bytes, fuel, started);
    try {
      // No inspectModule here: V8 would validate the module twice. The rewrite refuses what
      // Spindle cannot run, including imports and `_start` by registration's own rules (`host`:
      // a module may arrive here without registration), and V8 validates when it compiles.
      const prepared = prepareModule(bytes, { fuel, fast: true, host: WASI_HOST, maxTableElements: this.maxTableElements });
      // Small modules compile faster on this thread than through V8's background tasks (a few
      // ms, once per digest); large ones compile in the background, off the event loop.
      const module =
        prepared.bytes.length <= SYNC_COMPILE_BYTES ? new WebAssembly.Module(prepared.bytes) : await WebAssembly.compile(prepared.bytes);
      return {
        ok: true,
        compiled: {
          id: nextId++,
          module,
          component: null,
          memory: prepared.memory,
          growFailedExport: prepared.exports.growFailed,
          fuelExport: prepared.exports.fuel,
          compileMs: performance.now() - started,
          evicted: false,
        },
      };
    } catch (e) {
      return { ok: false, error: errorText(e) };
    }
  }

  private async compileComponent(digest: string, bytes: Uint8Array, fuel: boolean, started: number): Promise<CompileResult> {
    try {
      const entry = this.entries.get(digest);
      const transpiled = entry ? (entry.transpiled ??= this.transpile(bytes)) : this.transpile(bytes);
      let t: Transpiled;
      try {
        t = await transpiled;
      } catch (e) {
        if (!(e instanceof TranspileUnavailable)) throw e;
        if (entry?.transpiled === transpiled) entry.transpiled = undefined;
        return { ok: false, error: e.message, transient: true };
      }
      const c = await compileComponent(t, fuel, this.maxTableElements);
      return {
        ok: true,
        compiled: {
          id: nextId++,
          module: null,
          component: c.code,
          memory: c.memory,
          growFailedExport: '',
          fuelExport: null,
          compileMs: performance.now() - started,
          evicted: false,
        },
      };
    } catch (e) {
      return { ok: false, error: errorText(e) };
    }
  }
}
