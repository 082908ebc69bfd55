/**
 * What travels between the pool (main thread) and a task worker. The hot path is the shared
 * channel (channel.ts); the messages here are its fallback for what does not fit a ring slot
 * (sent over the channel's data port, read with receiveMessageOnPort) and the worker's `ready`
 * on its own port. Live output has its own shared memory and port (live.ts).
 */
import type { MessagePort } from 'node:worker_threads';
import type { FileEntry, Mount, TrapInfo, OutcomeKind } from '../domain/index.js';
import type { InlineRequest, InlineResult } from './channel.js';
import type { ComponentCode } from './component/code.js';

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
  /** The same for a WASI 0.2 component (its glue and core modules), in place of `module`. */
  component: ComponentCode | null;
  /** False for a module already evicted on the main thread: use it, do not keep it. */
  keep: boolean;
  growFailedExport: string;
  fuelExport: string | null;
  files: FileEntry[];
  /** null: the default ("/" alone). Requests with mounts or files always travel by message. */
  mounts: Mount[] | null;
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

/** A run's end as the worker sends it (the wire format's fields), plus the memory to hand back. */
export type RunEnd = Omit<DoneMessage, 't' | 'seq'> & {
  /** Wipes the task's memory and returns it to the pool; call after the result is sent. */
  release: (() => void) | null;
};

/** A run's result as the worker published it: inline in the ring, or whole by message. */
export type Result = InlineResult | DoneMessage;

export type FromWorker = ReadyMessage;

/** What the worker is started with. */
export interface WorkerInit {
  channel: SharedArrayBuffer;
  /** The worker's end of the data port. */
  data: MessagePort;
  /** Live output (live.ts): the shared areas, and the worker's end of the port for full ones. */
  output: SharedArrayBuffer;
  out: MessagePort;
}
