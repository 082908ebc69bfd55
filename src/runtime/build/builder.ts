/**
 * Building agents from source inside the service (DESIGN: agents built from source). Each build
 * runs in a tool thread (tools.ts): the compiler is JavaScript over the user's text, with a heap
 * limit, a deadline and in-memory I/O (asc-worker.ts), at most `concurrency` at once per node
 * (BUILD_CONCURRENCY); a build that waits for a thread waits in order. docs/RATIONALE.md says
 * why a thread suffices for a compiler written in JavaScript.
 *
 * Languages: AssemblyScript, with the WASI shim (`@assemblyscript/wasi-shim`), so its `console`,
 * `process` (argv, env, stdin, stdout, exit), `Date` and `Math.random` are WASI preview 1 calls
 * and the output is a WASI command (`_start`) like any other module. C and C++ (clang.ts): clang
 * compiled to WebAssembly, run on a runtime of the builds' own (`run`), with a task's limits.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { ToolFailure, ToolPool } from '../tools.js';
import type { RunOutcome, RunRequest } from '../types.js';
import { clangVersion, ClangBuilds } from './clang.js';
import { buildError, type BuildRequest, type BuildResult, type SourceLanguage } from './types.js';

export type { BuildRequest, BuildResult, Diagnostic, SourceFile, SourceLanguage } from './types.js';

/** Defaults of the build options (config: BUILD_CONCURRENCY, BUILD_TIMEOUT_MS). */
export const BUILD_DEFAULTS = { concurrency: 1, timeoutMs: 60_000 } as const;
/**
 * An AssemblyScript build thread's JavaScript heap limit (the compiler). Binaryen's Wasm memory is
 * not under it (up to the wasm32 ceiling); the deadline and BUILD_CONCURRENCY bound that.
 */
export const BUILD_HEAP_MB = 512;
const BUILD_IDLE_MS = 60_000;

/** Starts a build thread with its data and heap limit (runtime/index.ts knows how). */
export type BuildStarter = (entry: 'build/asc-worker', workerData: unknown, resourceLimits: { maxOldGenerationSizeMb: number }) => Worker;

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

interface AscSetup {
  ascUrl: string;
  shimDir: string;
  shimOptions: { use: string[]; exportStart: string };
  version: string;
}

let asc: AscSetup | undefined;
/** Where the compiler and the shim are, and the shim's options (its asconfig.json, read as data). */
function ascSetup(): AscSetup {
  if (asc) return asc;
  const ascDir = packageDir('assemblyscript');
  const shimRoot = packageDir('@assemblyscript/wasi-shim');
  const shimConfig = JSON.parse(readFileSync(join(shimRoot, 'asconfig.json'), 'utf8')) as { options: { use: string[]; exportStart: string } };
  const version = (JSON.parse(readFileSync(join(ascDir, 'package.json'), 'utf8')) as { version: string }).version;
  const shimVersion = (JSON.parse(readFileSync(join(shimRoot, 'package.json'), 'utf8')) as { version: string }).version;
  return (asc = {
    ascUrl: pathToFileURL(join(ascDir, 'dist', 'asc.js')).href,
    shimDir: join(shimRoot, 'assembly'),
    shimOptions: { use: shimConfig.options.use, exportStart: shimConfig.options.exportStart },
    version: `assemblyscript ${version}, @assemblyscript/wasi-shim ${shimVersion}`,
  });
}

/** What a build keeps of the compiler's words: they are stored with the build and sent to its subscribers. */
export const MAX_DIAGNOSTICS = 100;
export const MAX_LOG_CHARS = 64 * 1024;

export function bounded(r: BuildResult): BuildResult {
  const log = r.log.length > MAX_LOG_CHARS ? `${r.log.slice(0, MAX_LOG_CHARS)}\n… (${r.log.length - MAX_LOG_CHARS} more characters)` : r.log;
  const diagnostics = r.diagnostics.length > MAX_DIAGNOSTICS ? r.diagnostics.slice(0, MAX_DIAGNOSTICS) : r.diagnostics;
  return log === r.log && diagnostics === r.diagnostics ? r : { ...r, log, diagnostics };
}

export interface BuilderOptions {
  concurrency?: number;
  timeoutMs?: number;
  /** Runs a module on the builds' own runtime (C and C++: clang's steps). */
  run: (req: RunRequest) => Promise<RunOutcome>;
}

export class Builder {
  private readonly pool: ToolPool<BuildRequest, BuildResult>;
  private readonly clang: ClangBuilds;
  private readonly timeoutMs: number;

  constructor(start: BuildStarter, opts: BuilderOptions) {
    this.timeoutMs = opts.timeoutMs ?? BUILD_DEFAULTS.timeoutMs;
    this.clang = new ClangBuilds(opts.run, this.timeoutMs, opts.concurrency ?? BUILD_DEFAULTS.concurrency);
    this.pool = new ToolPool({
      start: () => {
        const { ascUrl, shimDir, shimOptions } = ascSetup();
        return start('build/asc-worker', { ascUrl, shimDir, shimOptions }, { maxOldGenerationSizeMb: BUILD_HEAP_MB });
      },
      size: opts.concurrency ?? BUILD_DEFAULTS.concurrency,
      timeoutMs: this.timeoutMs,
      idleMs: BUILD_IDLE_MS,
      doing: 'the build',
      limitName: 'BUILD_TIMEOUT_MS',
    });
  }

  /** The compiler a language builds with, as part of a build's cache key. */
  compiler(language: SourceLanguage): string {
    if (language === 'assemblyscript') return ascSetup().version;
    if (language === 'c' || language === 'cpp') return `${clangVersion()} (${language}, -O2${language === 'cpp' ? ', -fno-exceptions' : ''})`;
    throw new Error(`no compiler for ${String(language)}`);
  }

  /** Never rejects for the source's sake: a failure is a result with the log and diagnostics (both bounded). */
  async build(req: BuildRequest): Promise<BuildResult> {
    return bounded(await this.buildUnbounded(req));
  }

  private async buildUnbounded(req: BuildRequest): Promise<BuildResult> {
    const started = performance.now();
    if (req.language === 'c' || req.language === 'cpp') return this.clang.build(req);
    try {
      return await this.pool.run(req);
    } catch (e) {
      if (!(e instanceof ToolFailure)) throw e;
      const message = e.message;
      return { ok: false, log: message, diagnostics: [buildError(message)], buildMs: performance.now() - started };
    }
  }

  /** Builds waiting for a thread. */
  get waiting(): number {
    return this.pool.waiting;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
