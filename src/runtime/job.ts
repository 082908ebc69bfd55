/**
 * The pool's data: a run on its way through the pool (queued, prefetched or running), a worker
 * slot, the queue, and a byte helper for the partial output of a killed run.
 */
import type { Worker } from 'node:worker_threads';
import type { OutputChunk, RunOutcome } from './types.js';
import type { RunMessage } from './protocol.js';

export interface Job {
  readonly msg: RunMessage;
  /** The compiled module; `msg.module` carries it only to workers that do not hold it yet. */
  readonly module: WebAssembly.Module;
  readonly timeoutMs: number;
  readonly compileMs: number;
  readonly signal: AbortSignal | undefined;
  readonly onOutput: ((chunk: OutputChunk) => void) | undefined;
  readonly resolve: (outcome: RunOutcome) => void;
  /** Set once the outcome is decided; a done job found in the queue is skipped. */
  done: boolean;
  /** The worker slot it was sent to (running or prefetched); null while queued. */
  slot: Slot | null;
  timer: NodeJS.Timeout | null;
  dispatchedAt: number;
  /** Live chunks received so far: the partial output if the worker is then killed. */
  stdoutChunks: Uint8Array[];
  stderrChunks: Uint8Array[];
  stdoutSent: number;
  stderrSent: number;
  memoryBytes: number;
  abort: (() => void) | null;
  /** Sequence number in its worker (valid once sent). */
  seq: number;
}

export function makeJob(
  msg: RunMessage,
  timeoutMs: number,
  compileMs: number,
  signal: AbortSignal | undefined,
  onOutput: ((chunk: OutputChunk) => void) | undefined,
  resolve: (outcome: RunOutcome) => void,
): Job {
  return {
    msg, module: msg.module!, timeoutMs, compileMs, signal, onOutput, resolve,
    done: false, slot: null, timer: null, dispatchedAt: 0,
    stdoutChunks: [], stderrChunks: [], stdoutSent: 0, stderrSent: 0,
    memoryBytes: msg.hasMemory ? msg.initialPages * 65536 : 0,
    abort: null,
    seq: 0,
  };
}

type SlotState = 'starting' | 'idle' | 'busy' | 'dead';

export class Slot {
  state: SlotState = 'starting';
  /** The job running in the worker (its deadline is ticking). */
  job: Job | null = null;
  /** Jobs already posted to the worker, which starts each as soon as the one before ends. */
  readonly inbox: Job[] = [];
  /** Module keys this worker holds. */
  readonly known = new Set<string>();
  /** Duration of the last task here: short tasks get a deeper inbox (see Pool.depth). */
  lastRunMs = 5;
  /** Sequence number of the next job sent to this worker. */
  seq = 0;
  constructor(
    readonly worker: Worker,
    /** RUN_STATES slots shared with the worker, indexed by job seq (see protocol.ts). */
    readonly states: Int32Array,
  ) {}
}

/** A FIFO with O(1) shift; cancelled jobs stay in place and are skipped. */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  push(item: T): void {
    this.items.push(item);
  }
  unshift(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }
  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  drain(): T[] {
    const rest = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return rest;
  }
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
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

