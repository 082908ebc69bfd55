/**
 * Function types as value-type names (`(i32, i64, i32) -> i32`): what a host says its imports
 * take, and what a module declares for them, in one comparable, printable form.
 */
import { Reader } from './reader.js';

/** A function type by value-type names, e.g. `{ params: ['i32', 'i64', 'i32'], results: ['i32'] }`. */
export interface Signature {
  params: readonly string[];
  results: readonly string[];
}

const VALTYPES: Record<number, string> = {
  0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128',
  0x70: 'funcref', 0x6f: 'externref', 0x6e: 'anyref', 0x6d: 'eqref', 0x6c: 'i31ref',
  0x6b: 'structref', 0x6a: 'arrayref', 0x69: 'exnref',
  0x71: 'nullref', 0x72: 'nullexternref', 0x73: 'nullfuncref', 0x74: 'nullexnref',
};

const HEAP_TYPES: Record<number, string> = {
  0x70: 'func', 0x6f: 'extern', 0x6e: 'any', 0x6d: 'eq', 0x6c: 'i31', 0x6b: 'struct', 0x6a: 'array',
  0x69: 'exn', 0x71: 'none', 0x72: 'noextern', 0x73: 'nofunc', 0x74: 'noexn',
};

function valtype(r: Reader): string {
  const b = r.byte();
  if (b !== 0x63 && b !== 0x64) return VALTYPES[b] ?? `0x${b.toString(16)}`;
  const heap = r.s33(); // a type index, or an abstract heap type as a negative one-byte s33
  const name = heap >= 0 ? String(heap) : (HEAP_TYPES[heap + 0x80] ?? `0x${(heap + 0x80).toString(16)}`);
  return `(ref ${b === 0x63 ? 'null ' : ''}${name})`;
}

/** Decode a function type kept as latin1 bytes (`ModuleStructure.types`: `0x60 params results`). */
export function signatureOf(type: string): Signature {
  const r = new Reader(Uint8Array.from(type, (c) => c.charCodeAt(0)), 1, type.length);
  const vec = () => Array.from({ length: r.u32() }, () => valtype(r));
  const params = vec();
  return { params, results: vec() };
}

/** `(i32, i64) -> i32`; no results print as `()`, several as `(i32, i32)`. */
export function formatSignature(s: Signature): string {
  const results = s.results.length === 1 ? s.results[0]! : `(${s.results.join(', ')})`;
  return `(${s.params.join(', ')}) -> ${results}`;
}
