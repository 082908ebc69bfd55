/**
 * Skipping an instruction's immediates, on a bare position for speed. LEB128s are skipped without
 * range checks; the caller checks the position against the body's end once per instruction
 * (reads past a Uint8Array give undefined, which ends any LEB loop), so malformed input still
 * fails cleanly.
 */
import { Imm, IMM, IMM_FC, SimdImm, simdImm, atomicImm } from './opcodes.js';

function leb(buf: Uint8Array, pos: number): number {
  while (buf[pos++]! & 0x80);
  return pos;
}

/** Value of the last `uleb` (a module-level slot: no tuple allocation per call). */
export let ulebValue = 0;

export function uleb(buf: Uint8Array, pos: number): number {
  let v = 0;
  let scale = 1;
  for (;;) {
    const b = buf[pos++]!;
    v += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) break;
    scale *= 128;
  }
  ulebValue = v;
  return pos;
}

function memarg(buf: Uint8Array, pos: number): number {
  const flags = buf[pos]!;
  pos = leb(buf, pos);
  if (flags & 0x40) pos = leb(buf, pos); // multi-memory: explicit memory index
  return leb(buf, pos); // offset
}

/** A block type: 0x40, a one-byte value type, (ref null? ht) or an s33 type index. */
function blockType(buf: Uint8Array, pos: number): number {
  const b = buf[pos]!;
  return leb(buf, b === 0x63 || b === 0x64 ? pos + 1 : pos);
}

function valtypes(buf: Uint8Array, pos: number): number {
  pos = uleb(buf, pos);
  for (let n = ulebValue; n > 0 && pos <= buf.length; n--) pos = buf[pos] === 0x63 || buf[pos] === 0x64 ? leb(buf, pos + 1) : pos + 1;
  return pos;
}

/** Skip a 0xFC / 0xFD / 0xFE instruction's sub-opcode and immediates; -1 when unknown. */
function prefixed(buf: Uint8Array, pos: number, op: number): number {
  pos = uleb(buf, pos);
  const sub = ulebValue;
  if (op === 0xfc) {
    const kind = IMM_FC[sub];
    if (kind === undefined) return -1;
    return kind === Imm.Leb ? leb(buf, pos) : kind === Imm.Leb2 ? leb(buf, leb(buf, pos)) : pos;
  }
  if (op === 0xfd) {
    switch (simdImm(sub)) {
      case SimdImm.None: return pos;
      case SimdImm.MemArg: return memarg(buf, pos);
      case SimdImm.Bytes16: return pos + 16;
      case SimdImm.Lane: return pos + 1;
      case SimdImm.MemArgLane: return memarg(buf, pos) + 1;
      default: return -1;
    }
  }
  const kind = atomicImm(sub);
  return kind === 'memarg' ? memarg(buf, pos) : kind === 'byte' ? pos + 1 : -1;
}

/** Position after the immediates of `op` (whose byte is at pos - 1); -1 for an unknown opcode. */
export function immediates(buf: Uint8Array, pos: number, op: number): number {
  switch (IMM[op] as Imm) {
    case Imm.None: return pos;
    case Imm.Leb: return leb(buf, pos);
    case Imm.Leb2: return leb(buf, leb(buf, pos));
    case Imm.MemArg: return memarg(buf, pos);
    case Imm.BlockType: return blockType(buf, pos);
    case Imm.F32: return pos + 4;
    case Imm.F64: return pos + 8;
    case Imm.BrTable: {
      pos = uleb(buf, pos);
      for (let n = ulebValue; n >= 0 && pos <= buf.length; n--) pos = leb(buf, pos);
      return pos;
    }
    case Imm.SelectT: return valtypes(buf, pos);
    case Imm.HeapType: return leb(buf, pos);
    case Imm.TryTable: {
      pos = uleb(buf, blockType(buf, pos));
      for (let n = ulebValue; n > 0 && pos <= buf.length; n--) pos = leb(buf, buf[pos]! < 2 ? leb(buf, pos + 1) : pos + 1); // catch/catch_ref name a tag
      return pos;
    }
    case Imm.PrefixFC:
    case Imm.PrefixFD:
    case Imm.PrefixFE:
      return prefixed(buf, pos, op);
    default:
      return -1;
  }
}
