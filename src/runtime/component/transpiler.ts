/**
 * Transpiling WASI 0.2 components with jco (`@bytecodealliance/jco-transpile`) into
 * instantiation-mode glue and core modules, after the checks of world.ts: a component that
 * imports what Spindle does not host, is no command, or holds a core name the glue would copy
 * unescaped never reaches the code generator.
 *
 * jco's code generator is itself a Wasm component (360–620 ms the first time in a thread, ~120 ms
 * after), so it runs in a worker of its own (transpile-worker.ts): one component at a time, with a
 * heap limit and a deadline; the thread is kept while work comes and let go after TRANSPILER_IDLE_MS.
 * The runtime's module cache keeps the result per digest (cache.ts), so a component is transpiled
 * once per node.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { InvalidModuleError } from '../module/errors.js';
import type { Transpiled } from './code.js';
import { checkCommandWorld, checkCoreNames, readComponentWorld } from './world.js';

export interface TranspileRequest {
  id: number;
  bytes: Uint8Array;
}

export type TranspileResponse = { id: number; ok: true; files: Record<string, Uint8Array> } | { id: number; ok: false; error: string };

/** The glue's file name (jco names the core modules after it: `component.core.wasm`, …). */
export const GLUE_NAME = 'component';
/** A transpile that takes longer is stopped (its thread terminated) and the component refused. */
export const TRANSPILE_TIMEOUT_MS = 60_000;
/** The worker's heap limit (jco's own heap; a component's bytes are copied into it). */
export const TRANSPILER_HEAP_MB = 512;
/** An idle transpiler thread is let go after this long. */
const TRANSPILER_IDLE_MS = 30_000;

/** Starts the worker thread (runtime/index.ts knows how: compiled or from TypeScript sources). */
export type TranspilerStarter = (workerData: { jcoUrl: string; name: string }, resourceLimits: { maxOldGenerationSizeMb: number }) => Worker;

interface Pending {
  req: TranspileRequest;
  resolve(t: Transpiled): void;
  reject(e: Error): void;
}

let jcoUrl: string | undefined;
/** Not import.meta.resolve: some module runners (vitest) do not provide it. */
const resolveJco = () => pathToFileURL(createRequire(import.meta.url).resolve('@bytecodealliance/jco-transpile')).href;

const refused = (why: string) => new InvalidModuleError(`component could not be translated for this runtime: ${why}`);

export class Transpiler {
  private worker: Worker | null = null;
  private readonly queue: Pending[] = [];
  private current: Pending | null = null;
  private timer: NodeJS.Timeout | null = null;
  private idle: NodeJS.Timeout | null = null;
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly start: TranspilerStarter,
    private readonly timeoutMs = TRANSPILE_TIMEOUT_MS,
  ) {}

  /** Glue and core modules for `bytes`; an InvalidModuleError names what was refused. */
  transpile(bytes: Uint8Array): Promise<Transpiled> {
    checkCommandWorld(readComponentWorld(bytes));
    checkCoreNames(bytes);
    if (this.closed) return Promise.reject(new Error('transpiler closed'));
    return new Promise<Transpiled>((resolve, reject) => {
      this.queue.push({ req: { id: this.nextId++, bytes }, resolve, reject });
      this.pump();
    });
  }

  close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error('transpiler closed'));
    this.current?.reject(new Error('transpiler closed'));
    this.current = null;
    return this.stop();
  }

  private pump(): void {
    if (this.current !== null || this.queue.length === 0) return;
    const job = this.queue.shift()!;
    this.current = job;
    if (this.idle !== null) clearTimeout(this.idle);
    this.idle = null;
    const worker = (this.worker ??= this.spawn());
    worker.ref();
    this.timer = setTimeout(() => {
      void this.stop();
      this.settle(job, refused(`transpiling took longer than ${this.timeoutMs} ms`));
    }, this.timeoutMs);
    worker.postMessage(job.req);
  }

  private spawn(): Worker {
    const worker = this.start({ jcoUrl: (jcoUrl ??= resolveJco()), name: GLUE_NAME }, { maxOldGenerationSizeMb: TRANSPILER_HEAP_MB });
    worker.on('message', (res: TranspileResponse) => {
      const job = this.current;
      if (job === null || job.req.id !== res.id) return;
      if (!res.ok) return this.settle(job, refused(res.error));
      try {
        this.settle(job, asTranspiled(res.files));
      } catch (e) {
        this.settle(job, e as Error);
      }
    });
    // A worker that dies (its heap limit, a crash) fails the component it was working on.
    const died = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = null;
      if (this.current !== null) this.settle(this.current, refused(why));
    };
    worker.on('error', (e: Error) => died(e.message));
    worker.on('exit', (code: number) => died(`the transpiler stopped (exit code ${code})`));
    return worker;
  }

  private settle(job: Pending, result: Transpiled | Error): void {
    if (this.current !== job) return;
    this.current = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (result instanceof Error) job.reject(result);
    else job.resolve(result);
    if (this.queue.length > 0) return this.pump();
    // Idle: the thread may not hold the process open, and is let go after a while.
    this.worker?.unref();
    if (!this.closed && this.worker !== null) {
      this.idle = setTimeout(() => void this.stop(), TRANSPILER_IDLE_MS);
      this.idle.unref();
    }
  }

  private async stop(): Promise<void> {
    if (this.idle !== null) clearTimeout(this.idle);
    this.idle = null;
    const worker = this.worker;
    this.worker = null;
    if (worker !== null) await worker.terminate();
  }
}

function asTranspiled(files: Record<string, Uint8Array>): Transpiled {
  const js = files[`${GLUE_NAME}.js`];
  if (!js) throw refused('no glue was generated');
  const cores = Object.fromEntries(Object.entries(files).filter(([path]) => path.endsWith('.wasm')));
  return { js: new TextDecoder().decode(js), cores };
}
