/**
 * Messages between the pool (main thread) and a task worker. One task per worker at a time, so
 * no ids: a message from a worker belongs to the task that worker is running. Kept flat and
 * small; byte payloads from the worker are transferred, not copied.
 */
import type { FileEntry, TrapInfo, OutcomeKind } from '../domain/index.js';
import type { DeterministicOptions } from './types.js';

/**
 * Run-state handshake, one Int32 per in-flight job in a SharedArrayBuffer per worker (index
 * `seq % RUN_STATES`). Both sides compare-and-swap from PENDING: the worker to STARTED before it
 * runs a job, the main thread to CANCELLED when a job still waiting in the worker's inbox is
 * aborted. Whoever wins decides, so a cancelled job is either skipped or known to be running.
 */
export const RUN_STATES = 64;
export const PENDING = 0;
export const STARTED = 1;
export const CANCELLED = 2;

export interface RunMessage {
  t: 'run';
  /** Index into the run-state array (mod RUN_STATES). */
  seq: number;
  /** Compiled-module cache key (digest + instrumentation variant). */
  key: string;
  /** Present when this worker has not been sent `key` yet (posting shares the machine code). */
  module: WebAssembly.Module | null;
  /** False for a module already evicted on the main thread: use it, do not cache it. */
  keep: boolean;
  argv: string[];
  env: Record<string, string>;
  stdin: Uint8Array;
  files: FileEntry[];
  /** Memory to import as spindle.memory, pages; null when the module has no memory. */
  initialPages: number;
  maximumPages: number;
  hasMemory: boolean;
  memoryCapBytes: number;
  maxOutputBytes: number;
  hardOutputBytes: number;
  flushMs: number;
  growFailedExport: string;
  fuelExport: string | null;
  fuel: bigint | null;
  deterministic: DeterministicOptions | null;
}

export interface EvictMessage {
  t: 'evict';
  key: string;
}

export type ToWorker = RunMessage | EvictMessage;

export interface ReadyMessage {
  t: 'ready';
}

/** A live output chunk (a prefix-continuation of what the final result will hold). */
export interface OutputMessage {
  t: 'out';
  stream: 'stdout' | 'stderr';
  data: Uint8Array;
  /** Linear memory size when the chunk was sent (the best estimate if the run is then killed). */
  memoryBytes: number;
}

export interface DoneMessage {
  t: 'done';
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

export type FromWorker = ReadyMessage | OutputMessage | DoneMessage;
