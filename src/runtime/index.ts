/**
 * makeRuntime: the sandbox behind DESIGN.md §3. Compiles each module once per digest (cache.ts),
 * runs every task in a pre-emptible worker thread (pool.ts, worker.ts) and classifies how it
 * ended (classify.ts). `run()` never rejects: every end, including our own failures, is an outcome.
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { SpindleError, WASM_PAGE_BYTES, type OutcomeKind } from '../domain/index.js';
import { InvalidModuleError } from './module/index.js';
import { inspectBytes, ModuleCache, sha256Hex, type CompileResult } from './cache.js';
import { Builder } from './build/builder.js';
import { forgetClang } from './build/clang.js';
import { Transpiler, type TranspilerStarter } from './component/transpiler.js';
import { checkCommandWorld, isComponent, readComponentWorld } from './component/world.js';
import { makeJob } from './job.js';
import { Pool, type WorkerStarter } from './pool.js';
import type { RunMessage } from './protocol.js';
import type { CancelSignal, ModuleInfo, ModuleRef, OutputChunk, PoolStats, RunOutcome, RunRequest, Runtime, RuntimeOptions } from './types.js';

export type { CancelSignal, Runtime, RuntimeOptions, RunRequest, RunOutcome, PoolStats, ModuleInfo, ModuleRef, OutputChunk } from './types.js';
export { InvalidModuleError } from './module/index.js';
export { watToWasm } from './module/wat.js';
export { BUILD_DEFAULTS } from './build/builder.js';
export type { BuildRequest, BuildResult, Diagnostic, SourceFile, SourceLanguage } from './build/types.js';

/** Defaults for the optional RuntimeOptions. */
export const RUNTIME_DEFAULTS = {
  /** Compiled modules kept (per digest; the fuel-instrumented variant shares its entry). */
  moduleCacheSize: 64,
  /** How often the pool reads running guests' output for onOutput (live.ts). */
  outputFlushMs: 50,
} as const;

/**
 * The hard output cap: stdout+stderr a guest may *try* to write before the run ends as
 * output_limit. Well above the kept `maxOutputBytes` so a chatty-but-finite program is merely
 * truncated, low enough that a flood ends in milliseconds rather than at the timeout.
 */
export const hardOutputBytes = (maxOutputBytes: number): number => Math.max(8 * maxOutputBytes, 1 << 20);

const MAX_PAGES = 65536; // 4 GiB: the wasm32 ceiling
/** The builds' own runtime (C and C++) is closed after this long without a build. */
const BUILD_RUNTIME_IDLE_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
const EMPTY = new Uint8Array(0);
const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * An outcome with nothing from the guest: the run ended before the guest ran (refused, cancelled
 * while queued, compile failed) or failed around it. The executor builds its own ends with it too.
 */
export function emptyOutcome(kind: OutcomeKind, error: string, compileMs = 0): RunOutcome {
  return {
    kind, exitCode: null, stdout: EMPTY, stderr: EMPTY, stdoutTruncated: false, stderrTruncated: false,
    files: [], error, compileMs, runMs: 0, memoryPeakBytes: 0,
  };
}

/** Checks the request shape once at the edge; returns a message naming the bad field, or null. */
function badRequest(req: RunRequest): string | null {
  const l = req.limits;
  // setTimeout fires at once (1 ms) for delays beyond 2^31 - 1 ms: refuse them rather than misfire.
  if (!(l.timeoutMs > 0 && l.timeoutMs <= MAX_TIMER_MS)) return `limits.timeoutMs must be in (0, ${MAX_TIMER_MS}] ms (got ${l.timeoutMs})`;
  if (!(Number.isInteger(l.memoryBytes) && l.memoryBytes >= 0)) return `limits.memoryBytes must be a non-negative integer (got ${l.memoryBytes})`;
  if (!(Number.isInteger(l.maxOutputBytes) && l.maxOutputBytes >= 0)) return `limits.maxOutputBytes must be a non-negative integer (got ${l.maxOutputBytes})`;
  if (l.fuel !== undefined && !(typeof l.fuel === 'bigint' && l.fuel >= 0n)) return `limits.fuel must be a non-negative bigint (got ${String(l.fuel)})`;
  return null;
}

/**
 * How to start a worker. Compiled (dist/…/worker.js): directly. From TypeScript sources (tsx,
 * vitest) Node 20 cannot start a .ts worker, and `execArgv: ['--import', 'tsx']` does not apply
 * to the worker entry. So the worker is bundled once per process with esbuild (tsx's own
 * compiler) into a data: URL, which boots as fast as the compiled file (~30 ms); registering
 * tsx inside every worker instead costs ~250 ms a start and a loader thread per worker, which
 * matters when timeouts replace workers in quick succession. The tsx bootstrap is the fallback.
 */
function workerStarter(entryOverride?: URL): WorkerStarter {
  const options: WorkerOptions = {
    name: 'spindle-task',
    // Not the parent's flags: under tsx/vitest they load a module loader (a hooks thread and
    // ~100 ms) into every worker, which the worker does not need.
    execArgv: [],
    // A host-side runaway (not the guest: its memory is capped separately) kills the worker, not the process.
    resourceLimits: { maxOldGenerationSizeMb: 256 },
  };
  const start = (entry: URL): WorkerStarter => (workerData, transferList) => new Worker(entry, { ...options, workerData, transferList });
  return start(entryOverride ?? workerEntry('worker'));
}

/** A tool thread (tools.ts: the component transpiler, a build): Node's own flags, its heap limit. */
const toolThread = (entry: string, workerData: unknown, resourceLimits: { maxOldGenerationSizeMb: number }) =>
  new Worker(workerEntry(entry), { name: `spindle-${entry.replace(/.*\//, '')}`, execArgv: [], workerData, resourceLimits });
const transpilerStarter: TranspilerStarter = (workerData, resourceLimits) => toolThread('component/transpile-worker', workerData, resourceLimits);

const bundled = new Map<string, URL>();

/** A worker entry next to this file: the compiled .js, or from TypeScript sources bundled once per process. */
function workerEntry(name: string): URL {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL(`./${name}.js`, here);
  let url = bundled.get(name);
  if (url === undefined) bundled.set(name, (url = bundleWorker(new URL(`./${name}.ts`, here))));
  return url;
}

function bundleWorker(entry: URL): URL {
  const require = createRequire(import.meta.url);
  let code: string;
  try {
    const esbuild = require('esbuild') as typeof import('esbuild');
    const out = esbuild.buildSync({
      entryPoints: [fileURLToPath(entry)],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      write: false,
      logLevel: 'silent',
    });
    code = out.outputFiles[0]!.text;
  } catch {
    let api: string;
    try {
      api = import.meta.resolve('tsx/esm/api');
    } catch {
      // Some module runners (vitest) do not provide import.meta.resolve.
      api = pathToFileURL(require.resolve('tsx/esm/api')).href;
    }
    code = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(entry.href)});`;
  }
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

function validateOptions(opts: RuntimeOptions): void {
  if (!(Number.isInteger(opts.workers) && opts.workers >= 1 && opts.workers <= 1024)) {
    throw new RangeError(`RuntimeOptions.workers must be an integer from 1 to 1024 (got ${opts.workers})`);
  }
  const size = opts.moduleCacheSize;
  if (size !== undefined && !(Number.isInteger(size) && size >= 1)) {
    throw new RangeError(`RuntimeOptions.moduleCacheSize must be a positive integer (got ${size})`);
  }
  const flush = opts.outputFlushMs;
  if (flush !== undefined && !(Number.isFinite(flush) && flush >= 0)) {
    throw new RangeError(`RuntimeOptions.outputFlushMs must be a non-negative number (got ${flush})`);
  }
}

/** Not part of the contract: lets tests start a deliberately broken worker (a .js/.mjs file). */
export interface RuntimeInternals {
  workerEntry?: URL;
}

export function makeRuntime(opts: RuntimeOptions, internals: RuntimeInternals = {}): Runtime {
  validateOptions(opts);
  const flushMs = opts.outputFlushMs ?? RUNTIME_DEFAULTS.outputFlushMs;
  const pool = new Pool(opts.workers, flushMs, workerStarter(internals.workerEntry));
  const transpiler = new Transpiler(transpilerStarter);
  // C and C++ builds run clang (a WASI module) on a runtime of their own: BUILD_CONCURRENCY
  // workers, made at the first such build, so builds never take a task's worker; closed again
  // when no build ran for BUILD_RUNTIME_IDLE_MS (clang compiled and its sysroot hold ~500 MB).
  let buildRuntime: Runtime | undefined;
  let buildRuns = 0;
  let buildIdle: NodeJS.Timeout | null = null;
  const builder = new Builder(toolThread, {
    concurrency: opts.buildConcurrency,
    timeoutMs: opts.buildTimeoutMs,
    run: async (req) => {
      if (buildIdle !== null) clearTimeout(buildIdle);
      buildIdle = null;
      buildRuns++;
      try {
        return await (buildRuntime ??= makeRuntime({ workers: opts.buildConcurrency ?? 1, moduleCacheSize: 2, maxTableElements: opts.maxTableElements })).run(req);
      } finally {
        if (--buildRuns === 0 && !closed) {
          buildIdle = setTimeout(() => {
            const idle = buildRuntime;
            buildRuntime = undefined;
            buildIdle = null;
            forgetClang();
            void idle?.close();
          }, BUILD_RUNTIME_IDLE_MS);
          buildIdle.unref();
        }
      }
    },
  });
  const cache = new ModuleCache(opts.moduleCacheSize ?? RUNTIME_DEFAULTS.moduleCacheSize, (id) => pool.evict(id), (bytes) => transpiler.transpile(bytes), opts.maxTableElements);
  let closed = false;

  // Workers are unref'd so a forgotten runtime never holds the process open; while runs are
  // pending this one handle does (a queued run may be waiting for a worker to boot). One
  // interval for the runtime's life, ref'd and unref'd: cheaper than a timer per busy spell.
  let pending = 0;
  const keepAlive = setInterval(() => {}, 1 << 30);
  keepAlive.unref();
  const settle = (o: RunOutcome): RunOutcome => {
    if (--pending === 0) keepAlive.unref();
    return o;
  };

  function dispatch(
    req: RunRequest,
    result: CompileResult,
    compileMs: number,
    signal: CancelSignal | undefined,
    onOutput: ((chunk: OutputChunk) => void) | undefined,
    onStart: (() => void) | undefined,
  ): RunOutcome | Promise<RunOutcome> {
    if (!result.ok) return emptyOutcome(result.transient ? 'host_error' : 'invalid_module', result.error, compileMs);
    const c = result.compiled;
    const capBytes = req.limits.memoryBytes;
    const capPages = Math.min(MAX_PAGES, Math.floor(capBytes / WASM_PAGE_BYTES));
    let initialPages = 0;
    let maximumPages = 0;
    if (c.memory !== null) {
      initialPages = c.memory.initialPages;
      if (initialPages > capPages) {
        const error = `initial memory of ${initialPages * WASM_PAGE_BYTES} bytes exceeds the limit of ${capBytes} bytes`;
        return emptyOutcome('memory_limit', error, compileMs);
      }
      maximumPages = Math.min(c.memory.maximumPages ?? MAX_PAGES, capPages);
    }
    const fuel = req.limits.fuel ?? null;
    const msg: RunMessage = {
      t: 'run',
      seq: 0, // assigned by the pool per worker
      moduleId: c.id,
      module: c.module,
      component: c.component,
      keep: !c.evicted,
      argv: [req.argv0 ?? 'main.wasm', ...req.args],
      env: req.env,
      stdin: req.stdin,
      files: req.files ?? [],
      mounts: req.mounts ?? null,
      initialPages,
      maximumPages,
      hasMemory: c.memory !== null,
      memoryCapBytes: capPages * WASM_PAGE_BYTES,
      maxOutputBytes: req.limits.maxOutputBytes,
      hardOutputBytes: hardOutputBytes(req.limits.maxOutputBytes),
      growFailedExport: c.growFailedExport,
      fuelExport: c.fuelExport,
      fuel,
      // Only the two fields the channel carries (a caller's object may hold more).
      deterministic: req.deterministic === undefined ? null : { seed: req.deterministic.seed, epochMs: req.deterministic.epochMs },
    };
    return new Promise<RunOutcome>((resolve) => {
      try {
        pool.submit(makeJob(msg, req.limits.timeoutMs, compileMs, signal, onOutput, onStart, (o) => resolve(settle(o))));
      } catch (e) {
        resolve(settle(emptyOutcome('host_error', `host error: ${errorText(e)}`, compileMs)));
      }
    });
  }

  function run(req: RunRequest, signal?: CancelSignal, onOutput?: (chunk: OutputChunk) => void, onStart?: () => void): Promise<RunOutcome> {
    if (closed) return Promise.resolve(emptyOutcome('cancelled', 'runtime closed'));
    if (signal?.aborted) return Promise.resolve(emptyOutcome('cancelled', 'cancelled before start'));
    if (pending++ === 0) keepAlive.ref();
    try {
      const bad = badRequest(req);
      if (bad !== null) return Promise.resolve(settle(emptyOutcome('host_error', `bad run request: ${bad}`)));
      const found = cache.lookup(req.module, req.limits.fuel !== undefined);
      if (found === undefined) {
        return Promise.resolve(settle(emptyOutcome('host_error', `module ${req.module.digest} is not compiled here and no bytes were given`)));
      }
      // A cache hit: the pool's promise settles the run itself (no extra promise per run).
      if (!(found instanceof Promise)) return Promise.resolve(dispatchOrSettle(req, found, 0, signal, onOutput, onStart));
      return found
        .then((r) => dispatchOrSettle(req, r, r.ok ? r.compiled.compileMs : 0, signal, onOutput, onStart))
        .catch((e: unknown) => settle(emptyOutcome('host_error', `host error: ${errorText(e)}`)));
    } catch (e) {
      return Promise.resolve(settle(emptyOutcome('host_error', `host error: ${errorText(e)}`)));
    }
  }

  /** Dispatch, or settle at once when the run ends before reaching the pool. */
  function dispatchOrSettle(
    req: RunRequest,
    result: CompileResult,
    compileMs: number,
    signal: CancelSignal | undefined,
    onOutput: ((chunk: OutputChunk) => void) | undefined,
    onStart: (() => void) | undefined,
  ): RunOutcome | Promise<RunOutcome> {
    const r = dispatch(req, result, compileMs, signal, onOutput, onStart);
    return r instanceof Promise ? r : settle(r);
  }

  return {
    async inspect(bytes: Uint8Array): Promise<ModuleInfo> {
      if (!isComponent(bytes)) return inspectBytes(bytes);
      // A component is inspected by making it runnable: what it imports is checked before anything
      // else (world.ts), and the transpiled result stays in the cache for its first run.
      const world = readComponentWorld(bytes);
      checkCommandWorld(world);
      const digest = sha256Hex(bytes);
      const r = await cache.lookup({ digest, bytes }, false)!;
      // Our failure (the transpiler busy past its deadline, or stopping): ask to retry, refuse nothing.
      if (!r.ok && r.transient) throw new SpindleError('UNAVAILABLE', `${r.error}; retry in a minute`, { retryAfterSeconds: 60 });
      if (!r.ok) throw new InvalidModuleError(r.error);
      const c = r.compiled;
      return {
        digest,
        size: bytes.length,
        format: 'component',
        imports: world.imports.map((i) => ({ module: i.name, name: '', kind: i.sort })),
        exports: world.exports.map((e) => ({ name: e.name, kind: e.sort })),
        memory: c.memory && { ...c.memory, imported: false },
        tableElements: c.component!.tableElements,
        isCommand: true,
      };
    },

    async prepare(module: ModuleRef): Promise<void> {
      const found = cache.lookup(module, false);
      if (found === undefined) throw new InvalidModuleError(`module ${module.digest} is not compiled here and no bytes were given`);
      const r = await found;
      if (!r.ok) throw new InvalidModuleError(r.error);
    },

    run,

    build: (req) => builder.build(req),
    compiler: (language) => builder.compiler(language),

    stats(): PoolStats {
      return { ...pool.counters(), compiledModules: cache.size };
    },

    async close(): Promise<void> {
      closed = true;
      clearInterval(keepAlive);
      if (buildIdle !== null) clearTimeout(buildIdle);
      await Promise.all([pool.close(), transpiler.close(), builder.close(), buildRuntime?.close()]);
    },
  };
}
