/**
 * One task on a worker thread: build the WASI host, take a linear memory, instantiate, run
 * `_start`, classify the end. Everything here is on the per-task hot path: no per-task
 * closures beyond the WASI host's, memories reused (see takeMemory), live output written
 * straight into shared memory (live.ts).
 */
import { performance } from 'node:perf_hooks';
import type { FileEntry, Mount } from '../domain/index.js';
import { makeWasiHost, OutputLimitExceeded, ProcExit } from './wasi/index.js';
import { classifyEnd, runEnd, type GuestEnd } from './classify.js';
import type { InlineRequest } from './channel.js';
import type { LiveOutput } from './live.js';
import type { RunEnd } from './protocol.js';
import type { ComponentCode } from './component/code.js';
import { executeComponent } from './component/run.js';

const PAGE = 65536;

/** A compiled module as a worker holds it. */
export interface Loaded {
  /** A core module, or null for a component (`component`, run by component/run.ts). */
  module: WebAssembly.Module | null;
  component: ComponentCode | null;
  growFailedExport: string;
  fuelExport: string | null;
}

/** A run's end as the worker sends it (protocol.ts). */
export type Result = RunEnd;

/**
 * Reused linear memories, by shape (initial and maximum pages). A new WebAssembly.Memory
 * reserves ~10 GiB of address space (guard regions) and returning it costs an munmap plus GC
 * pressure; that, not the guest, dominated p99. A memory is reused only while it still has its
 * initial size (a grown one is dropped for the GC) and is zero-filled before it is put back.
 */
const memories = new Map<number, WebAssembly.Memory[]>();
const MEMORIES_PER_SHAPE = 2;
const MEMORY_SHAPES = 16;

function takeMemory(shape: number, initial: number, maximum: number): WebAssembly.Memory {
  return memories.get(shape)?.pop() ?? new WebAssembly.Memory({ initial, maximum });
}

function releaseMemory(shape: number, memory: WebAssembly.Memory, initialBytes: number): void {
  if (memory.buffer.byteLength !== initialBytes) return;
  let free = memories.get(shape);
  if (free === undefined) {
    if (memories.size >= MEMORY_SHAPES) memories.delete(memories.keys().next().value!);
    free = [];
    memories.set(shape, free);
  }
  if (free.length >= MEMORIES_PER_SHAPE) return;
  // Nothing of one task may reach the next: wipe every byte before the memory is reused.
  new Uint8Array(memory.buffer).fill(0);
  free.push(memory);
}

/**
 * Runs one task. `live`: where its output goes as it is written (null: only into the result);
 * `reuse`: take the memory from (and later return it to) the pool.
 */
export function execute(req: InlineRequest, files: FileEntry[], mounts: Mount[] | undefined, loaded: Loaded, seq: number, live: LiveOutput | null, reuse: boolean): Result {
  if (loaded.component !== null) return executeComponent(req, files, mounts, loaded.component, seq, live);
  const host = makeWasiHost({
    args: req.argv,
    env: req.env,
    stdin: req.stdin,
    files,
    mounts,
    maxOutputBytes: req.maxOutputBytes,
    hardOutputBytes: req.hardOutputBytes,
    onOutput: live?.write,
    deterministic: req.deterministic ?? undefined,
  });
  const shape = req.initialPages * 65537 + req.maximumPages;
  let memory: WebAssembly.Memory | null = null;
  const imports = host.imports;
  if (req.hasMemory) {
    memory = takeMemory(shape, req.initialPages, req.maximumPages);
    host.setMemory(memory);
    imports.spindle = { memory };
  }
  live?.begin(seq, memory);

  const started = performance.now();
  let end: GuestEnd;
  let instance: WebAssembly.Instance | null = null;
  const fuel = loaded.fuelExport !== null ? req.fuel : null;
  try {
    instance = new WebAssembly.Instance(loaded.module!, imports);
    if (fuel !== null) (instance.exports[loaded.fuelExport!] as WebAssembly.Global).value = fuel;
    (instance.exports._start as () => void)();
    end = { how: 'returned' };
  } catch (e) {
    if (e instanceof ProcExit) end = { how: 'exit', code: e.code };
    else if (e instanceof OutputLimitExceeded) end = { how: 'output_limit', message: e.message };
    else end = { how: 'threw', error: e };
  }
  const runMs = performance.now() - started;

  let growFailed = false;
  let fuelLeft: bigint | null = null;
  if (instance !== null) {
    growFailed = (instance.exports[loaded.growFailedExport] as WebAssembly.Global | undefined)?.value === 1;
    if (fuel !== null) fuelLeft = (instance.exports[loaded.fuelExport!] as WebAssembly.Global).value as bigint;
  }
  const fuelExhausted = fuelLeft !== null && fuelLeft < 0n;
  const c = classifyEnd(end, { growFailed, fuelExhausted, memoryCapBytes: req.memoryCapBytes });
  const out = host.result();
  host.dispose();
  const initialBytes = req.initialPages * PAGE;
  const kept = memory;
  return runEnd(c, out, {
    runMs,
    budget: req.fuel,
    fuelLeft,
    memoryBytes: memory === null ? 0 : memory.buffer.byteLength,
    release: reuse && kept !== null ? () => releaseMemory(shape, kept, initialBytes) : null,
  });
}
