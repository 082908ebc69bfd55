/**
 * One run of a WASI 0.2 command component on a task worker: execute.ts's counterpart. jco's glue
 * (evaluated in a context of its own, glue.ts) instantiates the component's core modules through
 * us: each was rewritten as a preview 1 module is (compile.ts: its memory, defined or imported,
 * becomes the import `spindle.memory`, and a failed memory.grow raises its flag), so the first
 * memory a core defines gets the task's cap, and a core that imports the program's memory (jco's
 * preview 1 adapter) gets the one the glue hands it. The WASI 0.2 host is ours (host.ts).
 */
import { performance } from 'node:perf_hooks';
import type { FileEntry, Mount } from '../../domain/index.js';
import { classifyEnd, runEnd, type GuestEnd } from '../classify.js';
import type { InlineRequest } from '../channel.js';
import type { LiveOutput } from '../live.js';
import type { RunEnd } from '../protocol.js';
import { Clock } from '../wasi/clock.js';
import { OutputLimitExceeded } from '../wasi/errno.js';
import { cryptoRandom, seededRandom } from '../wasi/random.js';
import { evaluateGlue } from './glue.js';
import type { ComponentCode, ComponentCore } from './code.js';
import { ComponentExit, makeP2Host } from './host.js';

/** In-memory filesystem limits, as the preview 1 host's defaults. */
const FS_LIMITS = { maxBytes: 64 << 20, maxInodes: 65536 };
const PAGE = 65536;

export function executeComponent(req: InlineRequest, files: FileEntry[], mounts: Mount[] | undefined, code: ComponentCode, seq: number, live: LiveOutput | null): RunEnd {
  const det = req.deterministic;
  const host = makeP2Host({
    args: req.argv,
    env: req.env,
    stdin: req.stdin,
    files,
    maxOutputBytes: req.maxOutputBytes,
    hardOutputBytes: req.hardOutputBytes,
    onOutput: live?.write,
    clock: new Clock(det !== null, det?.epochMs ?? 0),
    random: det !== null ? seededRandom(det.seed) : cryptoRandom,
    fsLimits: FS_LIMITS,
    mounts,
  });
  const byModule = new Map<WebAssembly.Module, ComponentCore>();
  for (const core of Object.values(code.cores)) byModule.set(core.module, core);
  const instances: [WebAssembly.Instance, ComponentCore][] = [];
  const memories: WebAssembly.Memory[] = [];
  // One budget for every core (compile.ts): set before the first instantiation, so start
  // functions are metered too.
  const fuel = req.fuel !== null ? new WebAssembly.Global({ value: 'i64', mutable: true }, req.fuel) : null;
  live?.begin(seq, null);

  const instantiated = new Set<WebAssembly.Module>();
  const instantiateCore = (module: WebAssembly.Module, imports: WebAssembly.Imports = {}): WebAssembly.Instance => {
    const core = byModule.get(module);
    // Caps are per core module: one that defines a memory or tables is instantiated once at most.
    if (core && (core.definesTables || (core.memory && !core.memory.imported))) {
      if (instantiated.has(module)) throw new ComponentRefused('a core module that defines a memory or tables is instantiated twice; Spindle caps them once per module');
      instantiated.add(module);
    }
    const spindle: Record<string, WebAssembly.Memory | WebAssembly.Global> = {};
    if (core?.fuel) {
      if (fuel === null) throw new Error('component: compiled with fuel, run without a budget');
      spindle.fuel = fuel;
    }
    if (core?.memory) {
      let memory: WebAssembly.Memory | undefined;
      if (core.memory.imported) {
        // The glue hands a core that imports a memory the one it shares (the program's).
        memory = Object.values(imports)
          .flatMap((ns) => Object.values(ns as Record<string, unknown>))
          .find((v): v is WebAssembly.Memory => v instanceof WebAssembly.Memory);
        if (memory === undefined) throw new Error('component: a core module that imports a memory was given none');
      } else {
        // The task's cap is one budget: the first memory may grow to what the others' initial
        // sizes leave (all known before any is made); the others keep their initial size.
        const capPages = req.memoryCapBytes / PAGE;
        const used = memories.reduce((sum, m) => sum + m.buffer.byteLength / PAGE, 0);
        const initial = core.memory.initialPages;
        if (initial > capPages - used) throw new MemoryCapExceeded(req.memoryCapBytes);
        const room = capPages - (code.definedPages - initial);
        memory = new WebAssembly.Memory({ initial, maximum: memories.length === 0 ? Math.min(core.memory.maximumPages ?? room, room) : initial });
        memories.push(memory);
      }
      spindle.memory = memory;
    }
    if (core?.memory || core?.fuel) imports = { ...imports, spindle };
    const instance = new WebAssembly.Instance(module, imports);
    if (core) instances.push([instance, core]);
    return instance;
  };

  const started = performance.now();
  let end: GuestEnd;
  try {
    const glue = evaluateGlue(code.glue);
    const exports = glue.instantiate((name) => {
      const core = code.cores[name];
      if (core === undefined) throw new Error(`component: the glue asked for an unknown core module ${JSON.stringify(name)}`);
      return core.module;
    }, host.imports as never, instantiateCore) as Record<string, { run?: () => void } | undefined>;
    const run = Object.entries(exports).find(([k]) => k === 'run' || k.startsWith('wasi:cli/run@'))?.[1]?.run;
    if (typeof run !== 'function') throw new Error('component: it exports no wasi:cli/run');
    run();
    end = { how: 'returned' };
  } catch (e) {
    if (e instanceof ComponentExit) end = { how: 'exit', code: e.code };
    else if (e instanceof OutputLimitExceeded) end = { how: 'output_limit', message: e.message };
    else if (isComponentError(e)) end = { how: 'exit', code: 1 }; // run() returned err without exit(): a failure, as in wasmtime
    else end = { how: 'threw', error: e };
  }
  const runMs = performance.now() - started;
  const flood = host.flood();
  if (flood !== null) end = { how: 'output_limit', message: flood.message };
  const growFailed = instances.some(([instance, core]) => (instance.exports[core.growFailedExport] as WebAssembly.Global | undefined)?.value === 1);
  const fuelLeft = fuel === null ? null : (fuel.value as bigint);
  const fuelExhausted = fuelLeft !== null && fuelLeft < 0n;
  const c = end.how === 'threw' && end.error instanceof MemoryCapExceeded
    ? { kind: 'memory_limit' as const, exitCode: null, trap: undefined, error: end.error.message }
    : end.how === 'threw' && end.error instanceof ComponentRefused
      ? { kind: 'invalid_module' as const, exitCode: null, trap: undefined, error: end.error.message }
      : classifyEnd(end, { growFailed, fuelExhausted, memoryCapBytes: req.memoryCapBytes });
  const memoryBytes = memories.reduce((sum, m) => sum + m.buffer.byteLength, 0);
  return runEnd(c, host.result(), { runMs, budget: req.fuel, fuelLeft, memoryBytes, release: null });
}

/** The component does something Spindle's caps cannot hold (invalid_module). */
class ComponentRefused extends Error {}

/** A core's initial memory does not fit in what the task's cap leaves. */
class MemoryCapExceeded extends Error {
  constructor(capBytes: number) {
    super(`the component's memories need more than the limit of ${capBytes} bytes`);
  }
}

/** jco's wrapper for a `result` err returned by an export (here: run() answering err); made in the glue's realm. */
const isComponentError = (e: unknown): boolean => typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'ComponentError';
