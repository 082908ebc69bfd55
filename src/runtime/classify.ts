/**
 * How a guest run ended, in the closed vocabulary of DESIGN.md §3. Pure functions: the worker
 * normalises what happened (`GuestEnd`) and asks here which outcome kind and trap code it is.
 * Timeouts and cancellation never reach this file: the main thread decides those when it
 * terminates the worker.
 */
import type { FileEntry, OutcomeKind, TrapCode, TrapInfo } from '../domain/index.js';
import type { RunEnd } from './protocol.js';

/** What the worker saw, before any interpretation. */
export type GuestEnd =
  /** `_start` returned: a WASI command that falls off the end exits 0. */
  | { how: 'returned' }
  /** proc_exit(code). */
  | { how: 'exit'; code: number }
  /** The WASI host stopped a stdout/stderr flood past the hard cap. */
  | { how: 'output_limit'; message: string }
  /** Anything thrown out of instantiation or `_start`. */
  | { how: 'threw'; error: unknown };

export interface EndFacts {
  /** A memory.grow answered -1 during the run (the growFailed global is 1). */
  growFailed: boolean;
  /** The fuel global went below zero. */
  fuelExhausted: boolean;
  /** The memory cap in bytes, for the message. */
  memoryCapBytes: number;
}

export interface Classified {
  kind: OutcomeKind;
  exitCode: number | null;
  trap?: TrapInfo;
  error?: string;
}

/**
 * V8's RuntimeError messages (src/common/message-template.h, kWasmTrap*) mapped to trap codes,
 * matched as substrings because instantiation prefixes them ("WebAssembly.Instance(): …").
 * Order matters: the first match wins.
 */
const TRAP_MESSAGES: readonly [string, TrapCode][] = [
  ['unreachable', 'unreachable'],
  ['memory access out of bounds', 'memory_out_of_bounds'],
  ['divide by zero', 'divide_by_zero'],
  ['remainder by zero', 'divide_by_zero'],
  ['divide result unrepresentable', 'integer_overflow'],
  ['integer overflow', 'integer_overflow'],
  ['float unrepresentable in integer range', 'invalid_conversion'],
  // V8 reports a null entry and a wrong signature with one message.
  ['null function or function signature mismatch', 'indirect_call_mismatch'],
  ['function signature mismatch', 'indirect_call_mismatch'],
  ['table index is out of bounds', 'table_out_of_bounds'],
  ['invalid index into function table', 'table_out_of_bounds'],
  ['data segment', 'data_segment_out_of_bounds'],
  ['element segment', 'element_segment_out_of_bounds'],
  ['element index out of bounds', 'element_segment_out_of_bounds'],
  ['operation does not support unaligned accesses', 'unaligned_atomic'],
  ['dereferencing a null pointer', 'null_reference'],
];

/**
 * The trap code of a thrown value, or null when it is not a guest trap at all (a host bug:
 * such runs end as host_error, never blamed on the guest).
 */
export function trapCodeOf(error: unknown): TrapCode | null {
  if (error instanceof RangeError && error.message.includes('Maximum call stack size exceeded')) return 'stack_overflow';
  if (!(error instanceof WebAssembly.RuntimeError)) return null;
  const message = error.message;
  for (const [needle, code] of TRAP_MESSAGES) if (message.includes(needle)) return code;
  return 'unknown';
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export function classifyEnd(end: GuestEnd, facts: EndFacts): Classified {
  if (end.how === 'output_limit') return { kind: 'output_limit', exitCode: null, error: end.message };
  // The fuel checkpoint traps with `unreachable`; the global tells it from a real one.
  if (facts.fuelExhausted) return { kind: 'fuel_exhausted', exitCode: null, error: 'fuel budget exhausted' };
  const memoryError = `memory.grow failed at the cap of ${facts.memoryCapBytes} bytes`;
  if (end.how === 'returned') return { kind: 'exited', exitCode: 0 };
  if (end.how === 'exit') {
    // A guest that copes with a failed grow and exits 0 succeeded; one that gives up failed on memory.
    if (end.code !== 0 && facts.growFailed) return { kind: 'memory_limit', exitCode: end.code, error: memoryError };
    return { kind: 'exited', exitCode: end.code };
  }
  const error = end.error;
  if (error instanceof WebAssembly.CompileError || error instanceof WebAssembly.LinkError) {
    return { kind: 'invalid_module', exitCode: null, error: messageOf(error) };
  }
  const code = trapCodeOf(error);
  if (code === null) return { kind: 'host_error', exitCode: null, error: `host error: ${messageOf(error)}` };
  const trap: TrapInfo = { code, message: messageOf(error) };
  if (facts.growFailed) return { kind: 'memory_limit', exitCode: null, trap, error: memoryError };
  return { kind: 'trap', exitCode: null, trap };
}

/** What a host hands back after a run (the preview 1 and the WASI 0.2 host alike). */
export interface HostOutput {
  stdout: Uint8Array;
  stderr: Uint8Array;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  files: FileEntry[];
}

/**
 * The run's end as the worker sends it: how it was classified, what the host kept, and fuel used
 * (none asked: undefined; the budget when exhausted; what the global says was spent otherwise).
 */
export function runEnd(
  c: Classified,
  out: HostOutput,
  run: { runMs: number; budget: bigint | null; fuelLeft: bigint | null; memoryBytes: number; release: (() => void) | null },
): RunEnd {
  const { budget, fuelLeft } = run;
  return {
    kind: c.kind,
    exitCode: c.exitCode,
    trap: c.trap,
    error: c.error,
    stdout: out.stdout,
    stderr: out.stderr,
    stdoutTruncated: out.stdoutTruncated,
    stderrTruncated: out.stderrTruncated,
    files: out.files,
    runMs: run.runMs,
    fuelUsed: budget === null ? undefined : fuelLeft === null ? 0n : fuelLeft < 0n ? budget : budget - fuelLeft,
    memoryBytes: run.memoryBytes,
    release: run.release,
  };
}
