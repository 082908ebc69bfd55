/**
 * What follows each opcode in a function body (its immediates). Covers MVP, sign extension,
 * multi-value (s33 block types), reference types, typed function references, tail calls,
 * exception handling (legacy try/catch/delegate and try_table), the 0xFC prefix (saturating
 * truncation, bulk memory, tables), 0xFD (SIMD and relaxed SIMD) and 0xFE (threads/atomics).
 * The garbage-collection prefix (0xFB) is not supported.
 */

export const enum Imm {
  None = 0,
  /** One LEB128: indices, i32/i64 constants, memory index of memory.size/grow. */
  Leb,
  /** Two LEB128s: call_indirect, table.copy, memory.init, … */
  Leb2,
  BlockType,
  BrTable,
  MemArg,
  F32,
  F64,
  SelectT,
  HeapType,
  TryTable,
  PrefixFC,
  PrefixFD,
  PrefixFE,
  Invalid,
}

/** Immediate kind per single-byte opcode. */
export const IMM = new Uint8Array(256).fill(Imm.Invalid);

const set = (kind: Imm, ...ops: number[]) => ops.forEach((op) => (IMM[op] = kind));
const range = (kind: Imm, from: number, to: number) => IMM.fill(kind, from, to + 1);

// control
set(Imm.None, 0x00, 0x01, 0x05, 0x0a, 0x0b, 0x0f, 0x19); // unreachable nop else throw_ref end return catch_all
set(Imm.BlockType, 0x02, 0x03, 0x04, 0x06); // block loop if try
set(Imm.Leb, 0x07, 0x08, 0x09, 0x0c, 0x0d, 0x18); // catch throw rethrow br br_if delegate
set(Imm.BrTable, 0x0e);
set(Imm.Leb, 0x10, 0x12, 0x14, 0x15); // call return_call call_ref return_call_ref
set(Imm.Leb2, 0x11, 0x13); // call_indirect return_call_indirect
set(Imm.TryTable, 0x1f);
// parametric
set(Imm.None, 0x1a, 0x1b); // drop select
set(Imm.SelectT, 0x1c);
// variables and tables
range(Imm.Leb, 0x20, 0x26); // local.get/set/tee global.get/set table.get/set
// memory
range(Imm.MemArg, 0x28, 0x3e);
set(Imm.Leb, 0x3f, 0x40); // memory.size memory.grow (memory index)
// constants
set(Imm.Leb, 0x41, 0x42);
set(Imm.F32, 0x43);
set(Imm.F64, 0x44);
// numeric (incl. sign extension 0xc0–0xc4)
range(Imm.None, 0x45, 0xc4);
// references
set(Imm.HeapType, 0xd0); // ref.null
set(Imm.None, 0xd1, 0xd3, 0xd4); // ref.is_null ref.eq ref.as_non_null
set(Imm.Leb, 0xd2, 0xd5, 0xd6); // ref.func br_on_null br_on_non_null
// prefixes
set(Imm.PrefixFC, 0xfc);
set(Imm.PrefixFD, 0xfd);
set(Imm.PrefixFE, 0xfe);

/** 0xFC sub-opcodes 0..17: trunc_sat ×8, memory.init, data.drop, memory.copy, memory.fill, table.init, elem.drop, table.copy/grow/size/fill. */
export const IMM_FC: readonly Imm[] = [
  Imm.None, Imm.None, Imm.None, Imm.None, Imm.None, Imm.None, Imm.None, Imm.None,
  Imm.Leb2, Imm.Leb, Imm.Leb2, Imm.Leb, Imm.Leb2, Imm.Leb, Imm.Leb2, Imm.Leb, Imm.Leb, Imm.Leb,
];

export const enum SimdImm {
  None,
  MemArg,
  /** v128.const, i8x16.shuffle: 16 bytes. */
  Bytes16,
  /** extract/replace lane: one lane byte. */
  Lane,
  MemArgLane,
  Invalid,
}

/** 0xFD sub-opcode immediates: 0x00–0xff (SIMD) and 0x100–0x113 (relaxed SIMD). */
export function simdImm(op: number): SimdImm {
  if (op <= 0x0b) return SimdImm.MemArg; // v128.load…, v128.store
  if (op <= 0x0d) return SimdImm.Bytes16;
  if (op >= 0x15 && op <= 0x22) return SimdImm.Lane;
  if (op >= 0x54 && op <= 0x5b) return SimdImm.MemArgLane;
  if (op === 0x5c || op === 0x5d) return SimdImm.MemArg; // v128.load32_zero / load64_zero
  return op <= 0x113 ? SimdImm.None : SimdImm.Invalid;
}

/** 0xFE (atomics): 0x03 atomic.fence takes one reserved byte, everything else a memarg. */
export function atomicImm(op: number): 'memarg' | 'byte' | 'invalid' {
  if (op === 0x03) return 'byte';
  return op <= 0x02 || (op >= 0x10 && op <= 0x4e) ? 'memarg' : 'invalid';
}

/**
 * Opcodes that cost nothing in the fuel model: structure markers, not work (nop, block, loop,
 * else, end, and the exception-handling markers try, catch, catch_all, delegate, try_table).
 */
export const FREE = new Uint8Array(256);
for (const op of [0x01, 0x02, 0x03, 0x05, 0x0b, 0x06, 0x07, 0x19, 0x18, 0x1f]) FREE[op] = 1;

/** What an opcode does to control flow, as far as the fuel rewrite's basic blocks care. */
export const enum Ctl {
  None = 0,
  /** block, try, try_table: a label whose end only its branches (and the fall-through) reach. */
  Open,
  Loop,
  If,
  Else,
  /** catch, catch_all: a handler, entered by a throw. */
  Catch,
  /** end, delegate */
  End,
  Br,
  /** br_if, br_on_null, br_on_non_null: may branch, may fall through. */
  BrIf,
  BrTable,
  /** unreachable, throw, rethrow, throw_ref, return, return_call*: control never falls through. */
  Leave,
}

export const CONTROL = new Uint8Array(256);
const ctl = (kind: Ctl, ...ops: number[]) => ops.forEach((op) => (CONTROL[op] = kind));
ctl(Ctl.Open, 0x02, 0x06, 0x1f);
ctl(Ctl.Loop, 0x03);
ctl(Ctl.If, 0x04);
ctl(Ctl.Else, 0x05);
ctl(Ctl.Catch, 0x07, 0x19);
ctl(Ctl.End, 0x0b, 0x18);
ctl(Ctl.Br, 0x0c);
ctl(Ctl.BrIf, 0x0d, 0xd5, 0xd6);
ctl(Ctl.BrTable, 0x0e);
ctl(Ctl.Leave, 0x00, 0x08, 0x09, 0x0a, 0x0f, 0x12, 0x13, 0x15);

/**
 * Opcodes before which the fuel rewrite stores the function's fuel local into the global: calls
 * (the callee charges the global; a host call may end the run) and whatever leaves the function
 * (return, tail calls, throws, unreachable). Branches out of the function are decided by label.
 */
export const SYNC = new Uint8Array(256);
for (const op of [0x00, 0x08, 0x09, 0x0a, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15]) SYNC[op] = 1;
