/**
 * The basic blocks of one function body, found during the rewriter's single pass, and the fuel
 * sequences put at their starts (the cost model and the sequences are in fuel.ts).
 *
 * A block is charged at its first instruction that costs something, its whole length up to the
 * instruction that ends it (a branch, `if`, `return`, …), so the charge is exactly what runs. A
 * block starts at function entry, at each loop header (always: every loop pass is checked), in
 * each `if` arm, after a `br_if` (its fall-through), after each call when calls may throw (the
 * module has exception tags), at a `catch`, after the `end` of an `if`, a `try` and the
 * `end` of a block that some branch names; the `end` of a loop or of a block no branch names is
 * reached only by falling through and continues the block before it. Code after `br`,
 * `br_table`, `return`, `unreachable` or a throw is dead up to the next `else`/`end` it can be
 * entered through, and is not charged.
 */
import type { FuelCode } from './fuel.js';
import { uleb, ulebValue } from './decode.js';
import type { Splice } from './leb.js';
import { CONTROL, Ctl, FREE, SYNC } from './opcodes.js';

const enum Kind { Block, Loop, If, Try }
/** Frame flags: a branch names the label · control reaches the opening · the then-arm falls through · has an else. */
const TARGETED = 1, LIVE_IN = 2, THEN_LIVE = 4, ELSE = 8;
/** Where the instruction being read stands: unreachable, at the start of a block not yet charged, inside a charged one. */
const enum State { Dead, Pending, Live }

export class BodyMeter {
  private readonly kinds: Kind[] = [];
  private readonly flags: number[] = [];
  private state = State.Live;
  /** The charged block's cost placeholder, and its cost so far. */
  private patchAt: number;
  private cost = 0;

  /**
   * `out` copies the body with the sequences inserted; `calls.firstFunc` tells calls to imports
   * (which do not charge the global) from calls to defined functions; `at` is the body's first
   * instruction.
   */
  constructor(
    private readonly out: Splice,
    private readonly code: FuelCode,
    private readonly calls: { firstFunc: number; callsMayThrow: boolean },
    at: number,
  ) {
    this.patchAt = code.entry(out.upTo(at));
  }

  /** Account for the instruction `op` at [at, pos): charge it, insert what goes before and after it. */
  step(at: number, pos: number, op: number): void {
    const buf = this.out.src;
    if (FREE[op] === 0) {
      if (this.state === State.Live) this.cost++;
      else if (this.state === State.Pending) this.begin(this.code.block(this.out.upTo(at)), 1);
    }
    const live = this.state !== State.Dead;
    // Calls and exits read the global: make it current first.
    if (live && SYNC[op] === 1) this.code.sync(this.out.upTo(at));
    switch (CONTROL[op] as Ctl) {
      case Ctl.None:
        if (live && (op === 0x10 || op === 0x11 || op === 0x14)) this.afterCall(at, pos, op);
        return;
      case Ctl.Open:
        this.open(op === 0x06 ? Kind.Try : Kind.Block);
        // try_table's catch clauses branch to outer labels: count them all as targets.
        if (op === 0x1f) for (let i = 0; i < this.flags.length; i++) this.flags[i]! |= TARGETED;
        return;
      case Ctl.Loop:
        this.open(Kind.Loop);
        if (live) (this.close(), this.begin(this.code.loop(this.out.upTo(pos)), 0));
        return;
      case Ctl.If:
        this.open(Kind.If);
        this.close();
        this.state = live ? State.Pending : State.Dead;
        return;
      case Ctl.Else: {
        const top = this.flags.length - 1;
        this.flags[top]! |= ELSE | (live ? THEN_LIVE : 0);
        this.close();
        this.state = this.flags[top]! & LIVE_IN ? State.Pending : State.Dead;
        return;
      }
      case Ctl.Catch: // a handler is entered from any throw inside the try, after the thrower charged the global
        this.close();
        this.state = this.flags[this.flags.length - 1]! & LIVE_IN ? State.Pending : State.Dead;
        if (this.state !== State.Dead) this.code.reload(this.out.upTo(pos));
        return;
      case Ctl.End:
        return this.end(at, live);
      case Ctl.Br:
        if (this.target((uleb(buf, at + 1), ulebValue)) && live) this.code.sync(this.out.upTo(at));
        return this.leave();
      case Ctl.BrIf:
        if (this.target((uleb(buf, at + 1), ulebValue)) && live) this.code.sync(this.out.upTo(at));
        if (live) (this.close(), (this.state = State.Pending));
        return;
      case Ctl.BrTable: {
        let p = uleb(buf, at + 1);
        let leaves = false;
        for (let n = ulebValue; n >= 0 && p < pos; n--) (p = uleb(buf, p)), (leaves = this.target(ulebValue) || leaves);
        if (leaves && live) this.code.sync(this.out.upTo(at));
        return this.leave();
      }
      case Ctl.Leave:
        return this.leave();
    }
  }

  private afterCall(at: number, pos: number, op: number): void {
    // A call to a defined function (maybe through a table) has charged the global.
    if (op !== 0x10 || (uleb(this.out.src, at + 1), ulebValue) >= this.calls.firstFunc) this.code.reload(this.out.upTo(pos));
    // When calls may throw into a handler, what follows a call is charged only once it returned.
    if (this.calls.callsMayThrow) (this.close(), (this.state = State.Pending));
  }

  private open(kind: Kind): void {
    this.kinds.push(kind);
    this.flags.push(this.state === State.Dead ? 0 : LIVE_IN);
  }

  private end(at: number, live: boolean): void {
    const kind = this.kinds.pop();
    if (kind === undefined) { // the function's own end
      if (live) this.code.sync(this.out.upTo(at));
      return this.close();
    }
    const f = this.flags.pop()!;
    if (kind === Kind.Loop || (kind === Kind.Block && !(f & TARGETED))) return; // only the fall-through arrives
    this.close();
    const reached = kind === Kind.If
      ? f & TARGETED || (f & ELSE ? f & THEN_LIVE || live : f & LIVE_IN)
      : kind === Kind.Try ? f & LIVE_IN : true;
    this.state = reached ? State.Pending : State.Dead;
  }

  /**
   * A branch to relative label `depth`: the code after that block's end can be entered from
   * here. True when it leaves the function.
   */
  private target(depth: number): boolean {
    const i = this.kinds.length - 1 - depth;
    if (i >= 0 && this.kinds[i] !== Kind.Loop) this.flags[i]! |= TARGETED; // a loop's label is its header, always charged
    return i < 0;
  }

  /** Control never falls through the instruction just read. */
  private leave(): void {
    this.close();
    this.state = State.Dead;
  }

  private begin(patchAt: number, cost: number): void {
    this.patchAt = patchAt;
    this.cost = cost;
    this.state = State.Live;
  }

  /** The charged block ends: write its cost into its checkpoint. */
  private close(): void {
    if (this.state === State.Live) this.out.w.patch5(this.patchAt, this.cost);
  }
}
