/**
 * A task worker: runs one guest at a time on its own thread, so the pool can pre-empt it with
 * `worker.terminate()`. Everything here is on the per-task hot path: no per-task closures beyond
 * the WASI host, no copies of output (the buffers are transferred to the main thread).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { makeWasiHost, OutputLimitExceeded, ProcExit } from './wasi/index.js';
import { classifyEnd, type GuestEnd } from './classify.js';
import { PENDING, RUN_STATES, STARTED, type DoneMessage, type OutputMessage, type RunMessage, type ToWorker } from './protocol.js';

const PAGE = 65536;
/** Output is sent live once this much is pending, even inside the flush interval. */
const FLUSH_BYTES = 64 * 1024;

const port = parentPort!;
const states = new Int32Array((workerData as { states: SharedArrayBuffer }).states);
const modules = new Map<string, WebAssembly.Module>();

/**
 * Reused linear memories, by "initial:maximum" pages. A new WebAssembly.Memory reserves ~10 GiB
 * of address space (guard regions) and returning it costs an munmap plus GC pressure; that, not
 * the guest, dominated p99. A memory is reused only while it still has its initial size (a grown
 * one is dropped for the GC) and is zero-filled before it is put back, after the result is sent.
 */
const memories = new Map<string, WebAssembly.Memory[]>();
const MEMORIES_PER_SHAPE = 2;
const MEMORY_SHAPES = 16;

function takeMemory(shape: string, initial: number, maximum: number): WebAssembly.Memory {
  return memories.get(shape)?.pop() ?? new WebAssembly.Memory({ initial, maximum });
}

function releaseMemory(shape: string, memory: WebAssembly.Memory, initialBytes: number): void {
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

/** Live output: batched per stream, sent at most every `flushMs` or FLUSH_BYTES. */
class LiveOutput {
  private readonly pending: Record<'stdout' | 'stderr', Uint8Array[]> = { stdout: [], stderr: [] };
  private pendingBytes = 0;
  private last: number;
  memory: WebAssembly.Memory | null = null;

  constructor(private readonly flushMs: number) {
    this.last = performance.now();
  }

  push = (stream: 'stdout' | 'stderr', data: Uint8Array): void => {
    this.pending[stream].push(data);
    this.pendingBytes += data.length;
    if (this.pendingBytes >= FLUSH_BYTES || performance.now() - this.last >= this.flushMs) this.flush();
  };

  private flush(): void {
    this.last = performance.now();
    this.pendingBytes = 0;
    const memoryBytes = this.memory === null ? 0 : this.memory.buffer.byteLength;
    for (const stream of ['stdout', 'stderr'] as const) {
      const chunks = this.pending[stream];
      if (chunks.length === 0) continue;
      const data = chunks.length === 1 ? chunks[0]! : concat(chunks);
      chunks.length = 0;
      const msg: OutputMessage = { t: 'out', stream, data, memoryBytes };
      // The WASI host hands over fresh copies, so the whole buffer can move.
      port.postMessage(msg, [data.buffer as ArrayBuffer]);
    }
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Runs one task; returns the result and the buffers to transfer with it. */
function execute(msg: RunMessage, release: boolean): [DoneMessage, ArrayBuffer[]] {
  const module = msg.module ?? modules.get(msg.key);
  if (module === undefined) throw new Error(`worker: module ${msg.key} was never sent`);

  const live = new LiveOutput(msg.flushMs);
  const host = makeWasiHost({
    args: msg.argv,
    env: msg.env,
    stdin: msg.stdin,
    files: msg.files,
    maxOutputBytes: msg.maxOutputBytes,
    hardOutputBytes: msg.hardOutputBytes,
    onOutput: live.push,
    deterministic: msg.deterministic ?? undefined,
  });
  const shape = `${msg.initialPages}:${msg.maximumPages}`;
  const initialBytes = msg.initialPages * PAGE;
  let memory: WebAssembly.Memory | null = null;
  const imports = host.imports;
  if (msg.hasMemory) {
    memory = takeMemory(shape, msg.initialPages, msg.maximumPages);
    host.setMemory(memory);
    live.memory = memory;
    imports.spindle = { memory };
  }

  const started = performance.now();
  let end: GuestEnd;
  let instance: WebAssembly.Instance | null = null;
  try {
    instance = new WebAssembly.Instance(module, imports);
    if (msg.fuelExport !== null && msg.fuel !== null) (instance.exports[msg.fuelExport] as WebAssembly.Global).value = msg.fuel;
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
    growFailed = (instance.exports[msg.growFailedExport] as WebAssembly.Global | undefined)?.value === 1;
    if (msg.fuelExport !== null && msg.fuel !== null) fuelLeft = (instance.exports[msg.fuelExport] as WebAssembly.Global).value as bigint;
  }
  const fuelExhausted = fuelLeft !== null && fuelLeft < 0n;
  const c = classifyEnd(end, { growFailed, fuelExhausted, memoryCapBytes: msg.memoryCapBytes });
  const out = host.result();
  const memoryBytes = memory === null ? 0 : memory.buffer.byteLength;
  const done: DoneMessage = {
    t: 'done',
    kind: c.kind,
    exitCode: c.exitCode,
    trap: c.trap,
    error: c.error,
    stdout: out.stdout,
    stderr: out.stderr,
    stdoutTruncated: out.stdoutTruncated,
    stderrTruncated: out.stderrTruncated,
    files: out.files,
    runMs,
    fuelUsed: msg.fuel === null ? undefined : fuelLeft === null ? 0n : fuelExhausted ? msg.fuel : msg.fuel - fuelLeft,
    memoryBytes,
  };
  if (release && memory !== null) pendingRelease = { shape, memory, initialBytes };
  return [done, transferList(out.stdout, out.stderr, out.files)];
}

/** Below this many bytes, copying a result is cheaper than transferring its buffers. */
const TRANSFER_MIN_BYTES = 64 * 1024;
const NO_TRANSFER: ArrayBuffer[] = [];

/** Buffers worth transferring with a result (each named once: a transfer list may not repeat). */
function transferList(stdout: Uint8Array, stderr: Uint8Array, files: { bytes: Uint8Array }[]): ArrayBuffer[] {
  let total = stdout.byteLength + stderr.byteLength;
  for (const f of files) total += f.bytes.byteLength;
  if (total < TRANSFER_MIN_BYTES) return NO_TRANSFER;
  const seen = new Set<ArrayBuffer>();
  for (const v of [stdout, stderr, ...files.map((f) => f.bytes)]) if (v.byteLength > 0) seen.add(v.buffer as ArrayBuffer);
  return [...seen];
}

let pendingRelease: { shape: string; memory: WebAssembly.Memory; initialBytes: number } | null = null;

/** A host-side failure (bad input file path, a bug) ends the run as host_error, not the worker. */
function fail(e: unknown): void {
  const done: DoneMessage = {
    t: 'done', kind: 'host_error', exitCode: null, trap: undefined,
    error: `host error: ${e instanceof Error ? e.message : String(e)}`,
    stdout: new Uint8Array(0), stderr: new Uint8Array(0), stdoutTruncated: false, stderrTruncated: false,
    files: [], runMs: 0, fuelUsed: undefined, memoryBytes: 0,
  };
  port.postMessage(done);
}

port.on('message', (msg: ToWorker) => {
  if (msg.t === 'evict') {
    modules.delete(msg.key);
    return;
  }
  // Keep the module even if the job is skipped: the main thread now counts on this worker having it.
  if (msg.module !== null && msg.keep) modules.set(msg.key, msg.module);
  // Claim the job; if the main thread cancelled it while it waited here, skip it silently.
  if (Atomics.compareExchange(states, msg.seq % RUN_STATES, PENDING, STARTED) !== PENDING) return;
  let reply: [DoneMessage, ArrayBuffer[]];
  try {
    reply = execute(msg, true);
  } catch (e) {
    return fail(e);
  }
  port.postMessage(reply[0], reply[1]);
  // After the reply: wiping the memory for reuse is off the task's latency path.
  const r = pendingRelease;
  if (r !== null) {
    pendingRelease = null;
    releaseMemory(r.shape, r.memory, r.initialBytes);
  }
});

/**
 * Warm-up before reporting ready: one tiny task through the WASI host and the whole run path, so
 * a freshly promoted spare does not run its first real task through cold (interpreted) host code.
 * The module writes "warm\n" to stdout through an imported spindle.memory.
 */
const WARM_MODULE =
  'AGFzbQEAAAABDAJgBH9/f38Bf2AAAAI1AhZ3YXNpX3NuYXBzaG90X3ByZXZpZXcxCGZkX3dyaXRlAAAHc3BpbmRsZQZtZW1vcnkCAAEDAgEBBgYBfwFBAAsHDgIBZwMABl9zdGFydAABCh0BGwBBAEEQNgIAQQRBBTYCAEEBQQBBAUEIEAAaCwsLAQBBEAsFd2FybQo=';
try {
  const module = new WebAssembly.Module(Buffer.from(WARM_MODULE, 'base64'));
  for (let i = 0; i < 3; i++) {
    execute(
      {
        t: 'run', seq: 0, key: '', module, keep: false, argv: ['warm'], env: {}, stdin: new Uint8Array(0), files: [],
        initialPages: 1, maximumPages: 1, hasMemory: true, memoryCapBytes: 65536, maxOutputBytes: 1024,
        hardOutputBytes: 1 << 20, flushMs: 1000, growFailedExport: 'g', fuelExport: null, fuel: null, deterministic: null,
      },
      false,
    );
  }
} catch {
  // Only an optimisation: a failure here will show up, classified, in the first real task.
}
port.postMessage({ t: 'ready' });
