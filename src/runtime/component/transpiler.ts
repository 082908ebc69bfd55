/**
 * Transpiling WASI 0.2 components with jco (`@bytecodealliance/jco-transpile`) into
 * instantiation-mode glue and core modules, after the checks of world.ts: a component that
 * imports what Spindle does not host, is no command, or holds a core name the glue would copy
 * unescaped never reaches the code generator.
 *
 * jco's code generator is itself a Wasm component (360–620 ms the first time in a thread, ~120 ms
 * after), so it runs in a tool thread of its own (tools.ts, transpile-worker.ts): one component at
 * a time, with a heap limit and a deadline; the thread is let go after TRANSPILER_IDLE_MS idle.
 * The runtime's module cache keeps the result per digest (cache.ts), so a component is transpiled
 * once per node.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { InvalidModuleError } from '../module/errors.js';
import { ToolFailure, ToolPool } from '../tools.js';
import type { Transpiled } from './code.js';
import { checkCommandWorld, checkCoreNames, readComponentWorld } from './world.js';

export interface TranspileRequest {
  bytes: Uint8Array;
}

export type TranspileResponse = { ok: true; files: Record<string, Uint8Array> } | { ok: false; error: string };

/** The glue's file name (jco names the core modules after it: `component.core.wasm`, …). */
export const GLUE_NAME = 'component';
/** A transpile that takes longer is stopped (its thread terminated) and the component refused. */
export const TRANSPILE_TIMEOUT_MS = 60_000;
/**
 * The thread's JavaScript heap limit. It does not cover jco's own Wasm memory (the code generator
 * is a Wasm component: up to the wasm32 ceiling); the deadline and one job at a time bound that.
 */
export const TRANSPILER_HEAP_MB = 512;
/** An idle transpiler thread is let go after this long. */
const TRANSPILER_IDLE_MS = 30_000;

/** Starts the thread (runtime/index.ts knows how), with what the worker needs and its heap limit. */
export type TranspilerStarter = (workerData: { jcoUrl: string; name: string }, resourceLimits: { maxOldGenerationSizeMb: number }) => Worker;

let jcoUrl: string | undefined;
/** Not import.meta.resolve: some module runners (vitest) do not provide it. */
const resolveJco = () => pathToFileURL(createRequire(import.meta.url).resolve('@bytecodealliance/jco-transpile')).href;

/** The transpiler could not finish (its deadline, its thread died, closing): not the component's fault, not cached. */
export class TranspileUnavailable extends Error {
  override readonly name = 'TranspileUnavailable';
}

const refused = (why: string) => new InvalidModuleError(`component could not be translated for this runtime: ${why}`);

export class Transpiler {
  private readonly pool: ToolPool<TranspileRequest, TranspileResponse>;

  constructor(start: TranspilerStarter, timeoutMs = TRANSPILE_TIMEOUT_MS) {
    this.pool = new ToolPool({
      start: () => start({ jcoUrl: (jcoUrl ??= resolveJco()), name: GLUE_NAME }, { maxOldGenerationSizeMb: TRANSPILER_HEAP_MB }),
      size: 1,
      timeoutMs,
      idleMs: TRANSPILER_IDLE_MS,
      doing: 'transpiling',
    });
  }

  /** Glue and core modules for `bytes`; an InvalidModuleError names what was refused. */
  async transpile(bytes: Uint8Array): Promise<Transpiled> {
    checkCommandWorld(readComponentWorld(bytes));
    checkCoreNames(bytes);
    let res: TranspileResponse;
    try {
      res = await this.pool.run({ bytes });
    } catch (e) {
      throw e instanceof ToolFailure ? new TranspileUnavailable(`component could not be translated now: ${e.message}`) : e;
    }
    if (!res.ok) throw refused(res.error);
    return asTranspiled(res.files);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

function asTranspiled(files: Record<string, Uint8Array>): Transpiled {
  const js = files[`${GLUE_NAME}.js`];
  if (!js) throw refused('no glue was generated');
  const cores = Object.fromEntries(Object.entries(files).filter(([path]) => path.endsWith('.wasm')));
  return { js: new TextDecoder().decode(js), cores };
}
