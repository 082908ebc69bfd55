/**
 * The pool's data: a run on its way through the pool (queued, prefetched or running), the
 * queue, and how a run's outcome is built from its result or, for a killed run, from the
 * output streamed so far. Worker slots: slot.ts.
 */
import { performance } from 'node:perf_hooks';
import type { OutcomeKind } from '../domain/index.js';
import { concat } from './bytes.js';
import type { OutputChunk, RunOutcome } from './types.js';
import type { RunMessage } from './protocol.js';
import type { Result, Slot } from './slot.js';

const NO_FILES: never[] = [];

export interface Job {
  /** The request; it goes inline through the channel when it can, else whole by message. */
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
  /** When its deadline started (0 while it has not) and when it passes (performance.now()). */
  dispatchedAt: number;
  deadline: number;
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
    done: false, slot: null, dispatchedAt: 0, deadline: 0,
    stdoutChunks: [], stderrChunks: [], stdoutSent: 0, stderrSent: 0,
    memoryBytes: msg.hasMemory ? msg.initialPages * 65536 : 0,
    abort: null,
    seq: 0,
  };
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

/** The outcome of a run from the result its worker published. */
export function outcomeOf(job: Job, m: Result): RunOutcome {
  const whole = 't' in m ? m : null;
  // The live listener has seen a prefix of each stream; hand it the rest before the outcome.
  if (job.onOutput !== undefined) {
    if (m.stdout.length > job.stdoutSent) emit(job, 'stdout', m.stdout.subarray(job.stdoutSent));
    if (m.stderr.length > job.stderrSent) emit(job, 'stderr', m.stderr.subarray(job.stderrSent));
  }
  return {
    kind: m.kind,
    exitCode: m.exitCode,
    stdout: m.stdout,
    stderr: m.stderr,
    stdoutTruncated: m.stdoutTruncated,
    stderrTruncated: m.stderrTruncated,
    files: whole === null ? NO_FILES : whole.files,
    trap: whole?.trap,
    error: whole?.error,
    compileMs: job.compileMs,
    runMs: m.runMs,
    fuelUsed: m.fuelUsed,
    memoryPeakBytes: m.memoryBytes,
  };
}

/** Hand a chunk to the run's live-output listener, if any. */
export function emit(job: Job, stream: 'stdout' | 'stderr', data: Uint8Array): void {
  if (job.onOutput === undefined) return;
  try {
    job.onOutput({ stream, data });
  } catch {
    // A listener's failure is the listener's: the run and the pool go on.
  }
}

/** The outcome of a run that did not report back: what was streamed so far. */
export function partial(job: Job, kind: OutcomeKind, error: string): RunOutcome {
  const max = job.msg.maxOutputBytes;
  return {
    kind,
    exitCode: null,
    stdout: job.stdoutChunks.length === 0 ? new Uint8Array(0) : concat(job.stdoutChunks),
    stderr: job.stderrChunks.length === 0 ? new Uint8Array(0) : concat(job.stderrChunks),
    stdoutTruncated: job.stdoutSent >= max && max > 0,
    stderrTruncated: job.stderrSent >= max && max > 0,
    files: [],
    error,
    compileMs: job.compileMs,
    // Only a job that started has run time (dispatchedAt is set when its deadline starts).
    runMs: job.slot === null || job.dispatchedAt === 0 ? 0 : performance.now() - job.dispatchedAt,
    memoryPeakBytes: job.memoryBytes,
  };
}
