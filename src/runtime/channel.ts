/**
 * The shared-memory channel between the pool and one task worker: two rings in one
 * SharedArrayBuffer (requests main → worker, results worker → main) plus the run-state array.
 *
 * Why not postMessage: a structured-clone message costs ~7 µs of CPU per hop on each side (the
 * clone, a MessageEvent, an event-loop turn), several times the cost of running a hello-world
 * guest. A request or result that fits a slot is written here as a few numbers and bytes
 * instead; the worker sleeps in `Atomics.wait` on the request head and the pool in
 * `Atomics.waitAsync` on the result head. Anything that does not fit (a module to hand over,
 * input files, a trap message, big output) goes whole over a MessageChannel (`data`) that both
 * sides read only with `receiveMessageOnPort`, in order, when a ring entry says "by message".
 */
import { INT64_MAX, OUTCOME_KINDS, type OutcomeKind } from '../domain/index.js';

/** Int32 indexes of the header. */
export const REQ_HEAD = 0; // requests written (main)
export const REQ_TAIL = 1; // requests taken (worker)
export const RES_HEAD = 2; // results written (worker)
export const RES_TAIL = 3; // results taken (main)
/**
 * Whether the worker may hold back a wake of the pool (main): 1 while the pool waits for results
 * with a timeout (WAKE_HOLD_MS), so a held result is read at that timeout at the latest; 0 while it
 * waits without one. Written by the pool before each wait, read by the worker at each publish.
 */
export const WAKE_MODE = 4;
/** The pool's timed wait while the worker may hold wakes: the most a result can go unread, ms. */
export const WAKE_HOLD_MS = 1;
/** A worker holds back at most this many results' wakes in a row (the pool reads them in one drain). */
export const WAKE_BATCH = 8;
/** Run states start here: see protocol.ts (one Int32 per in-flight job, by seq). */
export const STATES_AT = 16;
export const RUN_STATES = 64;

/** Slots per ring: powers of two (indexes are wrapping int32 counters, masked). */
export const REQ_SLOTS = 32;
export const RES_SLOTS = 32;
const REQ_BYTES = 1024;
const RES_BYTES = 4096;
const HEADER_BYTES = (STATES_AT + RUN_STATES) * 4;
const REQ_AT = HEADER_BYTES;
const RES_AT = REQ_AT + REQ_SLOTS * REQ_BYTES;
export const CHANNEL_BYTES = RES_AT + RES_SLOTS * RES_BYTES;

/** Entry types: fields inline, or the whole message waits on the data port. */
export const INLINE = 1;
export const BY_MESSAGE = 2;

/** The per-task numbers of a run request (what is not the guest's input). */
export interface RunParams {
  moduleId: number;
  initialPages: number;
  maximumPages: number;
  hasMemory: boolean;
  memoryCapBytes: number;
  maxOutputBytes: number;
  hardOutputBytes: number;
  fuel: bigint | null;
  deterministic: { seed: number; epochMs: number } | null;
}

export interface InlineRequest extends RunParams {
  argv: string[];
  env: Record<string, string>;
  stdin: Uint8Array;
}

export interface InlineResult {
  kind: OutcomeKind;
  exitCode: number | null;
  stdout: Uint8Array;
  stderr: Uint8Array;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  runMs: number;
  fuelUsed: bigint | undefined;
  memoryBytes: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

/** Views over one channel buffer; both threads build their own. */
export class Channel {
  readonly ctl: Int32Array;
  readonly states: Int32Array;
  private readonly dv: DataView;
  private readonly u8: Uint8Array;
  private at = 0;

  constructor(readonly sab: SharedArrayBuffer) {
    this.ctl = new Int32Array(sab, 0, STATES_AT);
    this.states = new Int32Array(sab, STATES_AT * 4, RUN_STATES);
    this.dv = new DataView(sab);
    this.u8 = new Uint8Array(sab);
  }

  static create(): Channel {
    return new Channel(new SharedArrayBuffer(CHANNEL_BYTES));
  }

  // --- requests -------------------------------------------------------------------------------

  /** Write request `index` by message: only its seq. */
  putRequestByMessage(index: number, seq: number): void {
    const at = REQ_AT + (index & (REQ_SLOTS - 1)) * REQ_BYTES;
    this.dv.setUint8(at, BY_MESSAGE);
    this.dv.setUint32(at + 4, seq, true);
  }

  /** Write request `index` inline; false (nothing published) when it does not fit a slot. */
  putRequest(index: number, seq: number, r: InlineRequest): boolean {
    // A budget beyond i64 would wrap here; the message path hands the bigint over unchanged.
    if (r.fuel !== null && r.fuel > INT64_MAX) return false;
    const base = REQ_AT + (index & (REQ_SLOTS - 1)) * REQ_BYTES;
    const dv = this.dv;
    dv.setUint32(base + 4, seq, true);
    dv.setUint32(base + 8, r.moduleId, true);
    dv.setUint32(base + 12, r.initialPages, true);
    dv.setUint32(base + 16, r.maximumPages, true);
    dv.setFloat64(base + 24, r.memoryCapBytes, true);
    dv.setFloat64(base + 32, r.maxOutputBytes, true);
    dv.setFloat64(base + 40, r.hardOutputBytes, true);
    dv.setBigInt64(base + 56, r.fuel ?? 0n, true);
    dv.setFloat64(base + 64, r.deterministic?.seed ?? 0, true);
    dv.setFloat64(base + 72, r.deterministic?.epochMs ?? 0, true);
    dv.setUint8(base + 1, (r.hasMemory ? 1 : 0) | (r.fuel !== null ? 2 : 0) | (r.deterministic !== null ? 4 : 0));
    this.at = base + 80;
    const end = base + REQ_BYTES;
    const env = Object.keys(r.env);
    if (!this.count(r.argv.length, end)) return false;
    for (const a of r.argv) if (!this.string(a, end)) return false;
    if (!this.count(env.length, end)) return false;
    for (const k of env) if (!this.string(k, end) || !this.string(r.env[k]!, end)) return false;
    if (!this.bytes(r.stdin, end)) return false;
    dv.setUint8(base, INLINE);
    return true;
  }

  /** Entry type and seq of request `index`. */
  requestType(index: number): number {
    return this.dv.getUint8(REQ_AT + (index & (REQ_SLOTS - 1)) * REQ_BYTES);
  }

  requestSeq(index: number): number {
    return this.dv.getUint32(REQ_AT + (index & (REQ_SLOTS - 1)) * REQ_BYTES + 4, true);
  }

  /** Read inline request `index` (copies everything out of the ring). */
  getRequest(index: number): InlineRequest {
    const base = REQ_AT + (index & (REQ_SLOTS - 1)) * REQ_BYTES;
    const dv = this.dv;
    const flags = dv.getUint8(base + 1);
    this.at = base + 80;
    const argv = new Array<string>(this.getCount());
    for (let i = 0; i < argv.length; i++) argv[i] = this.getString();
    const env: Record<string, string> = {};
    for (let n = this.getCount(); n > 0; n--) {
      const k = this.getString();
      env[k] = this.getString();
    }
    return {
      moduleId: dv.getUint32(base + 8, true),
      initialPages: dv.getUint32(base + 12, true),
      maximumPages: dv.getUint32(base + 16, true),
      hasMemory: (flags & 1) !== 0,
      memoryCapBytes: dv.getFloat64(base + 24, true),
      maxOutputBytes: dv.getFloat64(base + 32, true),
      hardOutputBytes: dv.getFloat64(base + 40, true),
      fuel: flags & 2 ? dv.getBigInt64(base + 56, true) : null,
      deterministic: flags & 4 ? { seed: dv.getFloat64(base + 64, true), epochMs: dv.getFloat64(base + 72, true) } : null,
      argv,
      env,
      stdin: this.getBytes(),
    };
  }

  // --- results --------------------------------------------------------------------------------

  putResultByMessage(index: number, seq: number): void {
    const at = RES_AT + (index & (RES_SLOTS - 1)) * RES_BYTES;
    this.dv.setUint8(at, BY_MESSAGE);
    this.dv.setUint32(at + 4, seq, true);
  }

  /** Write result `index` inline; false when it does not fit a slot. */
  putResult(index: number, seq: number, r: InlineResult): boolean {
    const base = RES_AT + (index & (RES_SLOTS - 1)) * RES_BYTES;
    const end = base + RES_BYTES;
    if (base + 48 + r.stdout.length + r.stderr.length > end) return false;
    const dv = this.dv;
    dv.setUint32(base + 4, seq, true);
    dv.setUint8(base + 1, OUTCOME_KINDS.indexOf(r.kind));
    const flags = (r.exitCode !== null ? 1 : 0) | (r.stdoutTruncated ? 2 : 0) | (r.stderrTruncated ? 4 : 0) | (r.fuelUsed !== undefined ? 8 : 0);
    dv.setUint8(base + 2, flags);
    dv.setInt32(base + 8, r.exitCode ?? 0, true);
    dv.setFloat64(base + 16, r.runMs, true);
    dv.setFloat64(base + 24, r.memoryBytes, true);
    dv.setBigInt64(base + 32, r.fuelUsed ?? 0n, true);
    this.at = base + 40;
    this.bytes(r.stdout, end);
    this.bytes(r.stderr, end);
    dv.setUint8(base, INLINE);
    return true;
  }

  resultType(index: number): number {
    return this.dv.getUint8(RES_AT + (index & (RES_SLOTS - 1)) * RES_BYTES);
  }

  getResult(index: number): InlineResult {
    const base = RES_AT + (index & (RES_SLOTS - 1)) * RES_BYTES;
    const dv = this.dv;
    const flags = dv.getUint8(base + 2);
    this.at = base + 40;
    return {
      kind: OUTCOME_KINDS[dv.getUint8(base + 1)]!,
      exitCode: flags & 1 ? dv.getInt32(base + 8, true) : null,
      stdoutTruncated: (flags & 2) !== 0,
      stderrTruncated: (flags & 4) !== 0,
      runMs: dv.getFloat64(base + 16, true),
      memoryBytes: dv.getFloat64(base + 24, true),
      fuelUsed: flags & 8 ? dv.getBigInt64(base + 32, true) : undefined,
      stdout: this.getBytes(),
      stderr: this.getBytes(),
    };
  }

  // --- fields ---------------------------------------------------------------------------------

  private count(n: number, end: number): boolean {
    if (this.at + 4 > end) return false;
    this.dv.setUint32(this.at, n, true);
    this.at += 4;
    return true;
  }

  private string(s: string, end: number): boolean {
    if (this.at + 4 + s.length > end) return false; // at least one byte per UTF-16 unit
    const { read, written } = encoder.encodeInto(s, this.u8.subarray(this.at + 4, end));
    if (read !== s.length) return false;
    this.dv.setUint32(this.at, written, true);
    this.at += 4 + written;
    return true;
  }

  private bytes(b: Uint8Array, end: number): boolean {
    if (this.at + 4 + b.length > end) return false;
    this.dv.setUint32(this.at, b.length, true);
    this.u8.set(b, this.at + 4);
    this.at += 4 + b.length;
    return true;
  }

  private getCount(): number {
    const n = this.dv.getUint32(this.at, true);
    this.at += 4;
    return n;
  }

  private getString(): string {
    const n = this.getCount();
    const s = n === 0 ? '' : decoder.decode(this.u8.subarray(this.at, this.at + n));
    this.at += n;
    return s;
  }

  /** A private copy: the slot is reused as soon as it is released. */
  private getBytes(): Uint8Array {
    const n = this.getCount();
    const b = n === 0 ? EMPTY : this.u8.slice(this.at, this.at + n);
    this.at += n;
    return b;
  }
}
