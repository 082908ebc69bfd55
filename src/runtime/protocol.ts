/**
 * What travels between the pool (main thread) and a task worker. The hot path is the shared
 * channel (channel.ts); the messages here are its fallback for what does not fit a ring slot
 * (sent over the channel's data port, read with receiveMessageOnPort) and the worker's events
 * (`ready`, live output) on the worker's own port.
 */
import type { MessagePort } from 'node:worker_threads';
import type { FileEntry, TrapInfo, OutcomeKind } from '../domain/index.js';
import type { InlineRequest } from './channel.js';

export { RUN_STATES } from './channel.js';

/**
 * Run-state handshake, one Int32 per in-flight job in the channel (index `seq % RUN_STATES`).
 * Both sides compare-and-swap from PENDING: the worker to STARTED before it runs a job, the
 * main thread to CANCELLED when a job still waiting in the worker's inbox is aborted. Whoever
 * wins decides, so a cancelled job is either skipped or known to be running.
 */
export const PENDING = 0;
export const STARTED = 1;
export const CANCELLED = 2;

/** A whole run request: sent by message when it does not fit a slot or carries a module. */
export interface RunMessage extends InlineRequest {
  t: 'run';
  /** Index into the run-state array (mod RUN_STATES). */
  seq: number;
  /** Present when this worker has not been sent `moduleId` yet (posting shares the machine code). */
  module: WebAssembly.Module | null;
  /** False for a module already evicted on the main thread: use it, do not keep it. */
  keep: boolean;
  growFailedExport: string;
  fuelExport: string | null;
  files: FileEntry[];
}

/** Forget a compiled module (sent over the data port). */
export interface EvictMessage {
  t: 'evict';
  moduleId: number;
}

export type ToWorker = RunMessage | EvictMessage;

export interface ReadyMessage {
  t: 'ready';
}

/** A live output chunk (a prefix-continuation of what the final result will hold). */
export interface OutputMessage {
  t: 'out';
  /** The job it belongs to: results travel on the channel, so chunks can arrive after them. */
  seq: number;
  stream: 'stdout' | 'stderr';
  data: Uint8Array;
  /** Linear memory size when the chunk was sent (the best estimate if the run is then killed). */
  memoryBytes: number;
}

/** A whole result: sent by message when it carries strings, files or too much output. */
export interface DoneMessage {
  t: 'done';
  seq: number;
  kind: OutcomeKind;
  exitCode: number | null;
  trap: TrapInfo | undefined;
  error: string | undefined;
  stdout: Uint8Array;
  stderr: Uint8Array;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  files: FileEntry[];
  runMs: number;
  fuelUsed: bigint | undefined;
  memoryBytes: number;
}

export type FromWorker = ReadyMessage | OutputMessage;

/** What the worker is started with. */
export interface WorkerInit {
  channel: SharedArrayBuffer;
  /** The worker's end of the data port. */
  data: MessagePort;
}
