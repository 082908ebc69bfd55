/**
 * The code section rewriter: decodes every instruction of every body (it has to, to find `loop`
 * and `memory.grow`), replaces `memory.grow` with a call to the grow wrapper and inserts fuel
 * checkpoints. Unchanged stretches are copied, not re-encoded; unchanged bodies are copied whole.
 */
import { InvalidModuleError, malformedAt } from './errors.js';
import { FuelCode, MAX_LOCALS } from './fuel.js';
import { Splice, Writer } from './leb.js';
import { BodyMeter } from './meter.js';
import { immediates, uleb, ulebValue } from './decode.js';
import { Reader, type Section } from './reader.js';

export interface CodeRewrite {
  /** Function index of the grow wrapper, or null when the module has no memory. */
  growFunc: number | null;
  /** Index of the fuel global, or null when not metering. */
  fuelGlobal: number | null;
  /** Parameter count of each defined function (for the index of the fuel local). */
  params: (defined: number) => number;
  /** Whole code entries (size + body) to append. */
  extraBodies: Uint8Array[];
  /** Index of the first defined function (the number of imported ones), for messages. */
  firstFunc: number;
  /** The module declares or imports exception tags: any call may unwind into a handler. */
  callsMayThrow: boolean;
  /**
   * Copy bodies that provably contain no `memory.grow` without decoding them (only when not
   * metering fuel, which must touch every body). V8 validates them at compile time instead, so
   * an unknown opcode there is V8's CompileError rather than our InvalidModuleError.
   */
  skipClean: boolean;
  /**
   * sharedFuel (rewrite.ts): global indices from this one up move up by one (the fuel global was
   * imported before them), and calls to imported functions reload the fuel too. Null otherwise.
   */
  globalShift: number | null;
}

/**
 * The first position in [from, end) that could start a `memory.grow`, or `end`. The opcode is
 * 0x40 followed by memory index 0: the byte 0x00 or a non-minimal LEB128 starting at 0x80 or
 * above (one memory only: nothing else is valid). A body without such a byte pair cannot
 * contain one; one with it (an empty block type before `unreachable`, an immediate) is simply
 * decoded. `indexOf` is a native memchr.
 */
function nextGrowCandidate(buf: Uint8Array, from: number, end: number): number {
  for (let at = buf.indexOf(0x40, from); at >= 0 && at < end; at = buf.indexOf(0x40, at + 1)) {
    const next = buf[at + 1]!;
    if (next === 0x00 || next >= 0x80) return at;
  }
  return end;
}

const unknownOpcode = (at: number, what: string, func: number) =>
  new InvalidModuleError(`unknown or unsupported opcode ${what} at offset ${at} (function #${func})`, {
    offset: at,
  });

/** Rewrite one body (locals + expression, `r` spans exactly it) into `w`. Returns false if unchanged. */
function rewriteBody(r: Reader, opts: CodeRewrite, w: Writer, func: number): boolean {
  const buf = r.buf;
  const end = r.end;
  const out = new Splice(buf, w, r.pos); // locals are copied as they are (plus the fuel local when metering)
  const groups = r.u32();
  const groupsAt = r.pos;
  let locals = opts.fuelGlobal === null ? 0 : opts.params(func - opts.firstFunc);
  for (let n = groups; n > 0; n--) (locals += r.u32(), r.valtype());
  let pos = r.pos;
  let meter: BodyMeter | null = null;
  if (opts.fuelGlobal !== null) {
    const spare = locals < MAX_LOCALS;
    if (spare) {
      // One more local group, (1 × i64), after the others: no existing local index moves.
      w.u32(groups + 1).copy(buf, groupsAt, pos).byte(0x01).byte(0x7e);
      out.from = pos;
    }
    // Shared fuel: an imported function may be another module's, charging the same budget.
    const calls = opts.globalShift === null ? opts : { firstFunc: 0, callsMayThrow: opts.callsMayThrow };
    meter = new BodyMeter(out, new FuelCode(opts.fuelGlobal, spare ? locals : null), calls, pos);
  }
  const shift = opts.globalShift;
  const growFunc = opts.growFunc;
  let modified = meter !== null;
  let depth = 0;
  while (pos < end) {
    const at = pos;
    const op = buf[pos++]!;
    pos = immediates(buf, pos, op);
    if (pos < 0) throw unknownOpcode(at, `0x${op.toString(16)}${op >= 0xfc ? ` ${(uleb(buf, at + 1), ulebValue)}` : ''}`, func);
    meter?.step(at, pos, op);
    if ((op === 0x23 || op === 0x24) && shift !== null) {
      const index = (uleb(buf, at + 1), ulebValue);
      if (index < shift) continue;
      out.upTo(at).byte(op).u32(index + 1);
      out.from = pos;
      modified = true;
    } else if (op === 0x40) {
      if (growFunc === null) continue;
      out.upTo(at).byte(0x10).u32(growFunc);
      out.from = pos;
      modified = true;
    } else if (op === 0x02 || op === 0x03 || op === 0x04 || op === 0x06 || op === 0x1f) {
      depth++;
    } else if ((op === 0x0b || op === 0x18) && depth-- === 0) { // end, delegate
      if (pos !== end) throw malformedAt(pos, `function #${func}: code after the final end`);
      if (!modified) return false;
      out.upTo(pos);
      return true;
    }
  }
  throw malformedAt(end, `function #${func}: body ends without its final end`);
}

/** Rewrite the code section payload `s` (or an absent one) into `out`. */
export function rewriteCode(bytes: Uint8Array, s: Section | null, opts: CodeRewrite, out: Writer): void {
  const r = new Reader(bytes, s ? s.start : 0, s ? s.end : 0);
  const count = s ? r.u32() : 0;
  out.u32(count + opts.extraBodies.length);
  const scratch = new Writer(4096);
  // skipClean: runs of bodies before the next grow candidate are copied as one block.
  let candidate = opts.skipClean ? nextGrowCandidate(bytes, r.pos, r.end) : -1;
  let copyFrom = r.pos;
  for (let i = 0; i < count; i++) {
    const entryStart = r.pos;
    const size = r.u32();
    const bodyEnd = r.pos + size;
    if (bodyEnd > r.end) throw malformedAt(entryStart, `function #${opts.firstFunc + i}: body extends past the code section`);
    if (candidate >= bodyEnd) {
      r.pos = bodyEnd; // cannot hold a memory.grow: stays in the pending copy
      continue;
    }
    out.copy(bytes, copyFrom, entryStart);
    if (rewriteBody(new Reader(bytes, r.pos, bodyEnd), opts, scratch.reset(), opts.firstFunc + i)) out.u32(scratch.len).append(scratch);
    else out.copy(bytes, entryStart, bodyEnd);
    r.pos = copyFrom = bodyEnd;
    if (opts.skipClean) candidate = nextGrowCandidate(bytes, bodyEnd, r.end);
  }
  if (r.pos !== r.end) throw malformedAt(r.pos, 'code section has trailing bytes');
  out.copy(bytes, copyFrom, r.pos);
  for (const body of opts.extraBodies) out.copy(body, 0, body.length);
}
