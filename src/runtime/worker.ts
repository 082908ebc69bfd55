/**
 * A task worker: runs one guest at a time on its own thread, so the pool can pre-empt it with
 * `worker.terminate()`. After its warm-up it never returns to the event loop: it sleeps in
 * `Atomics.wait` on the channel's request head, runs what arrives, writes the result back into
 * the channel and sleeps again (channel.ts says why). `terminate()` interrupts the wait as it
 * interrupts a guest.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { FileEntry, Mount } from '../domain/index.js';
import { Channel, INLINE, REQ_HEAD, REQ_TAIL, RES_HEAD, RES_SLOTS, RES_TAIL, RUN_STATES, WAKE_BATCH, WAKE_MODE, type InlineRequest } from './channel.js';
import { execute, type Loaded, type Result } from './execute.js';
import { LiveOutput } from './live.js';
import { PENDING, STARTED, type DoneMessage, type RunMessage, type ToWorker, type WorkerInit } from './protocol.js';

const init = workerData as WorkerInit;
const ch = new Channel(init.channel);
const ctl = ch.ctl;
const data = init.data;
const port = parentPort!;
/** The running guest's output, in shared memory the pool reads (live.ts). */
const live = new LiveOutput(init.output, init.out);

/** Compiled modules this worker holds, by the pool's module id. */
const modules = new Map<number, Loaded>();
/** Run messages read off the data port ahead of their ring entry (while draining evictions). */
const stashed: RunMessage[] = [];
/**
 * Evictions wait until the ring is empty: an inline request written before the eviction may
 * still name the module. (Ids are never reused: an evicted module is only ever sent whole.)
 */
const evicted: number[] = [];
const NO_FILES: FileEntry[] = [];

/** Read what waits on the data port: runs are stashed in order, evictions noted. */
function drainData(): void {
  for (let m = receiveMessageOnPort(data); m !== undefined; m = receiveMessageOnPort(data)) {
    const msg = m.message as ToWorker;
    if (msg.t === 'evict') evicted.push(msg.moduleId);
    else stashed.push(msg);
  }
}

/** The run message of a BY_MESSAGE entry: the pool posts it before publishing the entry. */
function nextRun(): RunMessage {
  if (stashed.length === 0) drainData();
  const msg = stashed.shift();
  if (msg === undefined) throw new Error('worker: a request entry has no message');
  return msg;
}

/** Below this many bytes, copying a result is cheaper than transferring its buffers. */
const TRANSFER_MIN_BYTES = 64 * 1024;

/** Buffers worth transferring with a result (each named once: a transfer list may not repeat). */
function transferList(r: Result): ArrayBuffer[] {
  let total = r.stdout.byteLength + r.stderr.byteLength;
  for (const f of r.files) total += f.bytes.byteLength;
  if (total < TRANSFER_MIN_BYTES) return [];
  const seen = new Set<ArrayBuffer>();
  for (const v of [r.stdout, r.stderr, ...r.files.map((f) => f.bytes)]) if (v.byteLength > 0) seen.add(v.buffer as ArrayBuffer);
  return [...seen];
}

let resHead = Atomics.load(ctl, RES_HEAD);

/** Hand a result to the pool: inline when it fits a slot, else whole over the data port. */
function publish(seq: number, r: Result): void {
  // The pool keeps at most a few jobs in flight per worker, so the ring never fills; if it did,
  // wait for the pool to catch up rather than overwrite a result it has not read.
  while (((resHead - Atomics.load(ctl, RES_TAIL)) | 0) >= RES_SLOTS) Atomics.wait(ctl, RES_TAIL, Atomics.load(ctl, RES_TAIL), 1);
  const inline = r.trap === undefined && r.error === undefined && r.files.length === 0 && ch.putResult(resHead, seq, r);
  if (!inline) {
    const msg: DoneMessage = {
      t: 'done', seq, kind: r.kind, exitCode: r.exitCode, trap: r.trap, error: r.error, stdout: r.stdout, stderr: r.stderr,
      stdoutTruncated: r.stdoutTruncated, stderrTruncated: r.stderrTruncated, files: r.files, runMs: r.runMs,
      fuelUsed: r.fuelUsed, memoryBytes: r.memoryBytes,
    };
    data.postMessage(msg, transferList(r));
    ch.putResultByMessage(resHead, seq);
  }
  const before = resHead;
  resHead = (resHead + 1) | 0;
  Atomics.store(ctl, RES_HEAD, resHead);
  // Wake the pool only if it had read everything before: otherwise it has a wake-up (or a
  // drain) under way that reads this result too. A wake costs the pool an event-loop turn and
  // this thread a syscall (~1 in 4 short tasks woke it). While more requests wait in the ring
  // and the pool waits with a timeout (WAKE_MODE), the wake is held for up to WAKE_BATCH
  // results: the pool reads them in one drain, at its timeout (WAKE_HOLD_MS) at the latest.
  // Never held into idleness (serve wakes before it sleeps). The order of the loads matters:
  // RES_HEAD is stored before WAKE_MODE is read, and the pool stores WAKE_MODE before its wait
  // reads RES_HEAD, so a pool that switched to an untimed wait has either seen this result or
  // is seen here waiting untimed.
  if (wakeOwed || Atomics.load(ctl, RES_TAIL) === before) {
    const more = Atomics.load(ctl, REQ_HEAD) !== Atomics.load(ctl, REQ_TAIL);
    if (more && Atomics.load(ctl, WAKE_MODE) === 1 && ++held < WAKE_BATCH) wakeOwed = true;
    else wake();
  }
}

/** A wake of the pool is owed: held back by publish, due before this thread sleeps. */
let wakeOwed = false;
let held = 0;

function wake(): void {
  wakeOwed = false;
  held = 0;
  Atomics.notify(ctl, RES_HEAD);
}

/** A host-side failure (bad input file path, a bug) ends the run as host_error, not the worker. */
function failure(e: unknown): Result {
  return {
    kind: 'host_error', exitCode: null, trap: undefined,
    error: `host error: ${e instanceof Error ? e.message : String(e)}`,
    stdout: new Uint8Array(0), stderr: new Uint8Array(0), stdoutTruncated: false, stderrTruncated: false,
    files: [], runMs: 0, fuelUsed: undefined, memoryBytes: 0, release: null,
  };
}

/** The loop: take a request, claim it, run it, publish the result, wipe its memory. */
function serve(): void {
  let next = Atomics.load(ctl, REQ_TAIL);
  for (;;) {
    if (Atomics.load(ctl, REQ_HEAD) === next) {
      if (wakeOwed) wake();
      drainData(); // idle: a good moment for evictions
      for (const id of evicted) modules.delete(id);
      evicted.length = 0;
      Atomics.wait(ctl, REQ_HEAD, next);
      continue;
    }
    const seq = ch.requestSeq(next);
    let req: InlineRequest;
    let files = NO_FILES;
    let mounts: Mount[] | undefined;
    let loaded: Loaded | undefined;
    if (ch.requestType(next) === INLINE) {
      req = ch.getRequest(next);
      loaded = modules.get(req.moduleId);
    } else {
      const msg = nextRun();
      req = msg;
      files = msg.files;
      mounts = msg.mounts ?? undefined;
      if (msg.module !== null || msg.component !== null) {
        loaded = { module: msg.module, component: msg.component, growFailedExport: msg.growFailedExport, fuelExport: msg.fuelExport };
        // Keep it even if the job is skipped: the pool now counts on this worker having it.
        if (msg.keep) modules.set(msg.moduleId, loaded);
      } else {
        loaded = modules.get(msg.moduleId);
      }
    }
    next = (next + 1) | 0;
    Atomics.store(ctl, REQ_TAIL, next);
    // Claim the job; if the pool cancelled it while it waited here, skip it silently.
    if (Atomics.compareExchange(ch.states, seq % RUN_STATES, PENDING, STARTED) !== PENDING) continue;
    let r: Result;
    try {
      if (loaded === undefined) throw new Error(`worker: module ${req.moduleId} was never sent`);
      r = execute(req, files, mounts, loaded, seq, live, true);
    } catch (e) {
      r = failure(e);
    }
    publish(seq, r);
    r.release?.(); // after the result: wiping the memory is off the task's latency path
  }
}

/**
 * Warm-up before reporting ready: one tiny task through the WASI host and the whole run path, so
 * a freshly promoted spare does not run its first real task through cold (interpreted) host code.
 * The module writes "warm\n" to stdout through an imported spindle.memory.
 */
const WARM_MODULE =
  'AGFzbQEAAAABDAJgBH9/f38Bf2AAAAI1AhZ3YXNpX3NuYXBzaG90X3ByZXZpZXcxCGZkX3dyaXRlAAAHc3BpbmRsZQZtZW1vcnkCAAEDAgEBBgYBfwFBAAsHDgIBZwMABl9zdGFydAABCh0BGwBBAEEQNgIAQQRBBTYCAEEBQQBBAUEIEAAaCwsLAQBBEAsFd2FybQo=';
try {
  const loaded = { module: new WebAssembly.Module(Buffer.from(WARM_MODULE, 'base64')), component: null, growFailedExport: 'g', fuelExport: null };
  const req: InlineRequest = {
    moduleId: 0, argv: ['warm'], env: {}, stdin: new Uint8Array(0), initialPages: 1, maximumPages: 1, hasMemory: true,
    memoryCapBytes: 65536, maxOutputBytes: 1024, hardOutputBytes: 1 << 20, fuel: null, deterministic: null,
  };
  // Not through `live`: the pool would read "warm" as the output of this worker's first job (seq 0).
  for (let i = 0; i < 3; i++) execute(req, NO_FILES, undefined, loaded, 0, null, false);
} catch {
  // Only an optimisation: a failure here will show up, classified, in the first real task.
}
port.postMessage({ t: 'ready' });
// Start serving once this module has finished evaluating; from then on the thread only waits or runs.
setImmediate(serve);
