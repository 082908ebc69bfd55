/**
 * Fuel metering by instrumentation.
 *
 * Cost model (deterministic, static): a function body is split into *regions*. The function's own
 * region is everything in its body outside any `loop`; each `loop` opens a region of its own that
 * holds its body outside any nested `loop`. A checkpoint at the start of each region (function
 * entry, top of each loop body) charges the region's cost: the number of instructions in it, every
 * instruction counting 1 except the structure markers `block`, `loop`, `else`, `end` and `nop`
 * (which count 0). Both arms of an `if` are charged, and code after an early `br`/`return` is
 * charged too, so the charge is an upper bound of what one pass through the region executes, and
 * a region is charged again each time control reaches its start (a call, or a branch back to a
 * loop header). Instructions of the helper functions Spindle appends are not charged (the
 * `memory.grow` they stand in for is). The start function, if any, runs before the host sets the
 * budget and is not metered (the global starts at 2^63 - 1).
 *
 * A checkpoint is stack-neutral. It keeps the new value in a local Spindle appends to the
 * function (so the global is read once and written once per checkpoint, which measured a few
 * per cent faster than reading it back):
 *
 *     global.get $fuel  i64.const <cost>  i64.sub  local.tee $f  global.set $fuel
 *     local.get $f  i64.const 0  i64.lt_s  if  unreachable  end
 *
 * (A function already at V8's limit of locals reads the global back instead of `local.get`.)
 * Exhaustion traps with `unreachable` and leaves the global below zero: the host tells fuel
 * exhaustion from a real `unreachable` by reading it. Every infinite execution passes through
 * function entries (recursion) or loop headers infinitely often, so every run ends.
 */
import { Writer } from './leb.js';

/** Initial value of the fuel global: effectively unmetered until the host sets the budget. */
export const FUEL_UNSET = (1n << 63n) - 1n;

export interface Checkpoint {
  bytes: Uint8Array;
  /** Offset of the 5-byte cost placeholder inside `bytes`. */
  costAt: number;
}

/** Most locals V8 accepts in one function (params included). */
export const MAX_LOCALS = 50000;

/** The checkpoint sequence for one function; `local` null = read the global back instead. */
export function makeCheckpoint(fuelGlobal: number, local: number | null): Checkpoint {
  const w = new Writer(40);
  w.byte(0x23).u32(fuelGlobal).byte(0x42);
  const costAt = w.reserve5();
  w.byte(0x7d);
  if (local !== null) w.byte(0x22).u32(local); // local.tee
  w.byte(0x24).u32(fuelGlobal);
  if (local !== null) w.byte(0x20).u32(local);
  else w.byte(0x23).u32(fuelGlobal);
  w.byte(0x42).byte(0x00).byte(0x53);
  w.byte(0x04).byte(0x40).byte(0x00).byte(0x0b);
  return { bytes: w.toBytes(), costAt };
}

/** Emit a checkpoint whose cost is filled in later; returns the position to `patch5`. */
export function emitCheckpoint(w: Writer, c: Checkpoint): number {
  const at = w.len + c.costAt;
  w.copy(c.bytes, 0, c.bytes.length);
  return at;
}
