/**
 * Fuel metering by instrumentation.
 *
 * Cost model (deterministic): one unit of fuel is one executed instruction. Every instruction
 * counts 1 except the structure markers `block`, `loop`, `else`, `end`, `nop` (and the
 * exception-handling markers `try`, `catch`, `catch_all`, `delegate`, `try_table`), which count
 * 0; `if`, `br_if`, `call` and the like count 1. Instructions of the helper functions Spindle
 * appends are not charged (the `memory.grow` they stand in for is). The start function, if any,
 * runs before the host sets the budget and is not metered (the global starts at 2^63 - 1), except
 * where the budget is an imported global (rewrite.ts `sharedFuel`, the core modules of a WASI 0.2
 * component): it is set before instantiation, and calls to imported functions reload it too.
 *
 * Charging is per basic block (meter.ts finds them): a checkpoint at the start of each block
 * actually entered charges the block's length, so `fuelUsed` is exactly the number of
 * instructions executed when the run returns or exits (checked against an independent count in
 * test/unit/module.fuel-oracle.test.ts). A call that ends the run (proc_exit) leaves the rest
 * of its block charged, a few units at most; a trap is reported as of the global's last write
 * (below), which can miss the loop-free stretch it happened in or include the rest of its block.
 * In a module with exception tags any call may unwind into a handler, so there a block also
 * ends after each call, and caught exceptions are counted exactly too.
 *
 * Between checkpoints the fuel lives in an i64 local Spindle appends to each function, so the
 * charge of a block is one register subtract, untested:
 *
 *     local.get $f  i64.const <cost>  i64.sub  local.set $f
 *
 * Function entries and loop headers charge and test, and write the global `$fuel` (the entry
 * reads it instead of the local):
 *
 *     local.get $f  i64.const <cost>  i64.sub  local.tee $f  global.set $fuel  local.get $f
 *     i64.const 0  i64.lt_s  if  unreachable  end
 *
 * The global is what the host reads and what callees charge, so it is kept current where that
 * matters: at loop headers (so a trap such as an out-of-bounds load loses at most the loop-free
 * stretch since the last loop header, call or entry of the trapping function), before every
 * call, `return`, tail call, throw, `unreachable`, branch out of the function and the final
 * `end`; it is read back into the local after every call to a defined function (and at a legacy
 * `catch`; a `try_table` handler does not read it back, so the charges of frames a caught
 * exception unwound are lost there). A function already at V8's limit of locals has no local to
 * spare: its charges go to the global directly.
 *
 * Exhaustion: a tested charge that leaves the fuel below zero traps with `unreachable`, and the
 * global, below zero, tells the host it was fuel and not a real `unreachable`. Untested charges
 * let a run go past its budget only until the next loop header or function entry (through
 * loop-free code); a run that ends before then ends with the global below zero, which the host
 * reports as fuel exhaustion all the same (fuelUsed = the budget). Testing every block cost
 * ~3 % more on sha256sum. Every infinite execution passes through loop headers or function
 * entries infinitely often, so every run ends.
 */
import { Writer } from './leb.js';

/** Initial value of the fuel global: effectively unmetered until the host sets the budget. */
export const FUEL_UNSET = (1n << 63n) - 1n;

/** Most locals V8 accepts in one function (params included). */
export const MAX_LOCALS = 50000;

/** Writes one function's fuel sequences; `local` null: no local to spare, the global alone. */
export class FuelCode {
  constructor(
    private readonly global: number,
    private readonly local: number | null,
  ) {}

  /** The charge at function entry (reads the global), tested; returns where to `patch5` the cost. */
  entry(w: Writer): number {
    return this.tested(w, true);
  }

  /** The charge at a loop header, tested; also writes the global, so a trap loses no earlier pass. */
  loop(w: Writer): number {
    return this.tested(w, false);
  }

  /** The charge at any other block: a subtract from the local, untested (see the header). */
  block(w: Writer): number {
    const { global, local } = this;
    if (local === null) w.byte(0x23).u32(global);
    else w.byte(0x20).u32(local);
    w.byte(0x42);
    const costAt = w.reserve5();
    w.byte(0x7d);
    if (local === null) w.byte(0x24).u32(global);
    else w.byte(0x21).u32(local);
    return costAt;
  }

  /** Make the global current, before a call or an exit. */
  sync(w: Writer): void {
    if (this.local !== null) w.byte(0x20).u32(this.local).byte(0x24).u32(this.global);
  }

  /** Take the global back, after a call that may have charged it. */
  reload(w: Writer): void {
    if (this.local !== null) w.byte(0x23).u32(this.global).byte(0x21).u32(this.local);
  }

  private tested(w: Writer, fromGlobal: boolean): number {
    const { global, local } = this;
    if (local === null || fromGlobal) w.byte(0x23).u32(global);
    else w.byte(0x20).u32(local);
    w.byte(0x42);
    const costAt = w.reserve5();
    w.byte(0x7d);
    if (local === null) w.byte(0x24).u32(global).byte(0x23).u32(global); // global.set, global.get: read it back
    else w.byte(0x22).u32(local).byte(0x24).u32(global).byte(0x20).u32(local); // local.tee, global.set, local.get
    w.byte(0x42).byte(0x00).byte(0x53).byte(0x04).byte(0x40).byte(0x00).byte(0x0b); // i64.const 0  i64.lt_s  if  unreachable  end
    return costAt;
  }
}
