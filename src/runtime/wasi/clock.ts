/**
 * Clocks. Real mode reads the host clocks; deterministic mode runs a virtual clock so the same
 * request produces the same bytes.
 *
 * Deterministic mode: the virtual clock starts at `epochMs` (realtime) and 0 (monotonic and
 * both cputime clocks). Every clock_time_get, whatever the clock, returns the current value and
 * then advances the virtual clock by STEP_NS (1 ms), so loops that wait for time to pass end.
 * poll_oneoff advances it by the requested timeout instead of sleeping. File timestamps read it
 * without advancing it.
 *
 * Real mode: the cputime clocks report wall time since the host was built. The guest has its
 * thread to itself while it runs, and process-wide CPU time would leak other tasks' load.
 */
import { CLOCK } from './abi.js';
import { E } from './errno.js';

export const STEP_NS = 1_000_000n;
const NS_PER_MS = 1_000_000n;

/** One Int32 to wait on: Atomics.wait is the only synchronous sleep that works in every thread. */
let sleepCell: Int32Array | null = null;

export function sleepNs(ns: bigint): void {
  if (ns <= 0n) return;
  sleepCell ??= new Int32Array(new SharedArrayBuffer(4));
  // Nobody ever notifies the cell: the wait always times out after `ms`.
  Atomics.wait(sleepCell, 0, 0, Number(ns) / 1e6);
}

export class Clock {
  /** Virtual elapsed ns (deterministic mode only). */
  private virt = 0n;
  private readonly epochNs: bigint;
  private readonly startHr: bigint;

  constructor(private readonly deterministic: boolean, epochMs: number) {
    this.startHr = deterministic ? 0n : process.hrtime.bigint();
    // Real mode anchors realtime to Date.now() once, then moves with the monotonic hrtime so
    // realtime readings within a run never go backwards.
    this.epochNs = deterministic
      ? BigInt(Math.trunc(epochMs)) * NS_PER_MS
      : BigInt(Date.now()) * NS_PER_MS;
  }

  /** Throws EINVAL for a clock id preview 1 does not define. */
  static check(id: number): void {
    if (id >>> 0 > CLOCK.THREAD_CPUTIME) throw E.INVAL;
  }

  resolution(): bigint {
    return this.deterministic ? STEP_NS : 1000n;
  }

  /** The value of clock `id` now, without side effects. */
  peek(id: number): bigint {
    const elapsed = this.deterministic ? this.virt : process.hrtime.bigint() - this.startHr;
    return id === CLOCK.REALTIME ? this.epochNs + elapsed : elapsed;
  }

  /** clock_time_get: the value, then (deterministic mode) one step forward. */
  read(id: number): bigint {
    const v = this.peek(id);
    if (this.deterministic) this.virt += STEP_NS;
    return v;
  }

  /** Realtime now for file timestamps: never advances the virtual clock. */
  now(): bigint {
    return this.peek(CLOCK.REALTIME);
  }

  /** Block for `ns` (real) or move virtual time forward by `ns` (deterministic). */
  wait(ns: bigint): void {
    if (ns <= 0n) return;
    if (this.deterministic) this.virt += ns;
    else sleepNs(ns);
  }
}
