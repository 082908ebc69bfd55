/**
 * The pool's data: making a run's record (a `Job`, declared with the worker slots in slot.ts),
 * the queue, and how a run's outcome is built from its result or, for a killed run, from the
 * output read live from its worker (collectOutput, live.ts).
 */
import { performance } from 'node:perf_hooks';
import { receiveMessageOnPort } from 'node:worker_threads';
import type { OutcomeKind } from '../domain/index.js';
import { concat } from './bytes.js';
import type { CancelSignal, OutputChunk, RunOutcome } from './types.js';
import type { Result, RunMessage } from './protocol.js';
import { STAGE_BYTES, type StageMessage } from './live.js';
import type { Job, Slot } from './slot.js';

const NO_FILES: never[] = [];

export function makeJob(
  msg: RunMessage,
  timeoutMs: number,
  compileMs: number,
  signal: CancelSignal | undefined,
  onOutput: ((chunk: OutputChunk) => void) | undefined,
  onStart: (() => void) | undefined,
  resolve: (outcome: RunOutcome) => void,
): Job {
  return {
    msg, module: msg.module, component: msg.component, timeoutMs, compileMs, signal, onOutput, onStart, resolve,
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
    if (m.stdout.length > job.stdoutSent) emit(job, 'stdout', job.stdoutSent, m.stdout.subarray(job.stdoutSent));
    if (m.stderr.length > job.stderrSent) emit(job, 'stderr', job.stderrSent, m.stderr.subarray(job.stderrSent));
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

/** Tell the run's owner that a worker took it up, if it asked. */
export function started(job: Job): void {
  if (job.onStart === undefined) return;
  try {
    job.onStart();
  } catch {
    // The listener's failure is the listener's: the run and the pool go on.
  }
}

/** Hand a chunk (bytes `offset` onwards of its stream) to the run's live-output listener, if any. */
export function emit(job: Job, stream: 'stdout' | 'stderr', offset: number, data: Uint8Array): void {
  if (job.onOutput === undefined) return;
  try {
    job.onOutput({ stream, offset, data });
  } catch {
    // A listener's failure is the listener's: the run and the pool go on.
  }
}

/**
 * Bytes `offset` onwards of a stream of the job, read live from its worker (live.ts): keep and
 * hand on what extends what it already has (areas are read more than once and also arrive whole
 * by message, so most of a repeat is dropped here).
 */
export function received(job: Job, stream: 'stdout' | 'stderr', offset: number, data: Uint8Array): void {
  const skip = (stream === 'stdout' ? job.stdoutSent : job.stderrSent) - offset;
  // A gap cannot happen (full areas arrive in order, before later bytes are read); be safe anyway.
  if (skip < 0 || skip >= data.length) return;
  const fresh = skip === 0 ? data : data.subarray(skip);
  const at = offset + skip;
  if (stream === 'stdout') {
    job.stdoutChunks.push(fresh);
    job.stdoutSent += fresh.length;
  } else {
    job.stderrChunks.push(fresh);
    job.stderrSent += fresh.length;
  }
  emit(job, stream, at, fresh);
}

/**
 * Take in everything `job` (running in `slot`) has written so far: full areas waiting on the
 * output port, then what the shared areas hold. A later generation in an area means a full one
 * was posted meanwhile: take the port again, then the area.
 */
export function collectOutput(slot: Slot, job: Job): void {
  for (let round = 0; round < 4; round++) {
    for (let m = receiveMessageOnPort(slot.out); m !== undefined; m = receiveMessageOnPort(slot.out)) {
      const s = m.message as StageMessage;
      if (s.seq === job.seq) received(job, s.stream, s.gen * STAGE_BYTES, s.data);
    }
    const stdoutGap = readArea(slot, job, 'stdout');
    const stderrGap = readArea(slot, job, 'stderr');
    if (!stdoutGap && !stderrGap) break;
  }
  const memoryBytes = slot.live.memoryBytes(job.seq);
  if (memoryBytes >= 0) job.memoryBytes = memoryBytes;
}

/** Take in what an area holds beyond what `job` has; true when it found a gap. */
function readArea(slot: Slot, job: Job, stream: 'stdout' | 'stderr'): boolean {
  const from = stream === 'stdout' ? job.stdoutSent : job.stderrSent;
  const bytes = slot.live.read(job.seq, stream, from);
  if (bytes === 'gap') return true;
  if (bytes !== null) received(job, stream, from, bytes);
  return false;
}

/** The outcome of a run that did not report back: what it wrote up to then (Slot.collect). */
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
