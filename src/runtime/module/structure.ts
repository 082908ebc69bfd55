/**
 * Decode the module-level sections the inspector and the rewriter need: types, imports, functions,
 * tables (limits only), memories, globals (count only) and exports. Code and data are left alone here.
 */
import type { ImportKind } from '../types.js';
import { InvalidModuleError, malformedAt } from './errors.js';
import { Reader, SECTION_NAMES, SectionId, splitSections, type Section } from './reader.js';

export const KINDS: readonly ImportKind[] = ['function', 'table', 'memory', 'global', 'tag'];

export interface Limits {
  flags: number;
  min: number;
  max: number | null;
  /** Raw encoding range, copied as-is when the memory moves into the import section. */
  start: number;
  end: number;
}

export interface ImportEntry {
  module: string;
  name: string;
  kind: ImportKind;
  /** Whole entry range in the module. */
  start: number;
  end: number;
}

export interface MemoryDecl {
  limits: Limits;
  /** Index into `imports` when imported. */
  importIndex: number | null;
}

export interface ModuleStructure {
  sections: Section[];
  /** Raw bytes of each function type (`0x60 params results`) as a latin1 string, for comparison. */
  types: string[];
  imports: ImportEntry[];
  /** Type index of every function, imported ones first. */
  funcTypes: number[];
  numFuncImports: number;
  numGlobalImports: number;
  numTableImports: number;
  numDefinedGlobals: number;
  /** Limits of every table, imported ones first. */
  tables: Limits[];
  memories: MemoryDecl[];
  exports: { name: string; kind: ImportKind; index: number }[];
}

const latin1 = (bytes: Uint8Array) => String.fromCharCode.apply(null, bytes as unknown as number[]);

/** The type key of `(i32) -> (i32)` and of `() -> ()`. */
export const TYPE_I32_I32 = latin1(Uint8Array.of(0x60, 1, 0x7f, 1, 0x7f));
export const TYPE_VOID = latin1(Uint8Array.of(0x60, 0, 0));

function limits(r: Reader): Limits {
  const start = r.pos;
  const flags = r.byte();
  if (flags > 7) throw malformedAt(start, `invalid limits flags 0x${flags.toString(16)}`);
  const wide = flags & 4 ? 10 : 5;
  const min = r.uleb(wide);
  const max = flags & 1 ? r.uleb(wide) : null;
  return { flags, min, max, start, end: r.pos };
}

function kindOf(byte: number, at: number): ImportKind {
  const kind = KINDS[byte];
  if (kind === undefined) throw malformedAt(at, `unknown import/export kind 0x${byte.toString(16)}`);
  return kind;
}

function readTypes(r: Reader, m: ModuleStructure): void {
  for (let n = r.u32(); n > 0; n--) {
    const start = r.pos;
    const form = r.byte();
    if (form !== 0x60) {
      throw new InvalidModuleError(
        `type section offset ${start}: type form 0x${form.toString(16)} (garbage-collection proposal) is not supported`,
      );
    }
    for (let p = r.u32(); p > 0; p--) r.valtype();
    for (let q = r.u32(); q > 0; q--) r.valtype();
    m.types.push(latin1(r.buf.subarray(start, r.pos)));
  }
}

function readImports(r: Reader, m: ModuleStructure): void {
  for (let n = r.u32(); n > 0; n--) {
    const start = r.pos;
    const module = r.name();
    const name = r.name();
    const kindAt = r.pos;
    const kind = kindOf(r.byte(), kindAt);
    if (kind === 'function') {
      m.funcTypes.push(r.u32());
      m.numFuncImports++;
    } else if (kind === 'table') {
      r.valtype();
      m.tables.push(limits(r));
      m.numTableImports++;
    } else if (kind === 'memory') {
      m.memories.push({ limits: limits(r), importIndex: m.imports.length });
    } else if (kind === 'global') {
      r.valtype();
      r.byte();
      m.numGlobalImports++;
    } else {
      r.byte();
      r.u32();
    }
    m.imports.push({ module, name, kind, start, end: r.pos });
  }
}

/** Decode the module-level sections. Throws InvalidModuleError on malformed bytes. */
export function readStructure(bytes: Uint8Array): ModuleStructure {
  const m: ModuleStructure = {
    sections: splitSections(bytes),
    types: [],
    imports: [],
    funcTypes: [],
    numFuncImports: 0,
    numGlobalImports: 0,
    numTableImports: 0,
    numDefinedGlobals: 0,
    tables: [],
    memories: [],
    exports: [],
  };
  for (const s of m.sections) {
    const r = new Reader(bytes, s.start, s.end);
    switch (s.id) {
      case SectionId.Type:
        readTypes(r, m);
        break;
      case SectionId.Import:
        readImports(r, m);
        break;
      case SectionId.Function:
        for (let n = r.u32(); n > 0; n--) m.funcTypes.push(r.u32());
        break;
      case SectionId.Table:
        for (let n = r.u32(); n > 0; n--) {
          r.valtype();
          m.tables.push(limits(r));
        }
        break;
      case SectionId.Memory:
        for (let n = r.u32(); n > 0; n--) m.memories.push({ limits: limits(r), importIndex: null });
        break;
      case SectionId.Global:
        m.numDefinedGlobals = r.u32();
        continue; // entries are not decoded: only their number matters
      case SectionId.Export:
        for (let n = r.u32(); n > 0; n--) {
          const name = r.name();
          const kindAt = r.pos;
          const kind = kindOf(r.byte(), kindAt);
          m.exports.push({ name, kind, index: r.u32() });
        }
        break;
      default:
        continue;
    }
    if (r.pos !== s.end) throw malformedAt(r.pos, `${SECTION_NAMES[s.id]} section size does not match its contents`);
  }
  return m;
}

/** Reject what the runtime cannot host: several memories, 64-bit or shared memory. */
export function checkMemories(m: ModuleStructure): void {
  if (m.memories.length > 1) {
    throw new InvalidModuleError(`module declares ${m.memories.length} memories; multi-memory is not supported (at most one)`);
  }
  const mem = m.memories[0];
  if (!mem) return;
  if (mem.limits.flags & 4) throw new InvalidModuleError('memory64 (a 64-bit memory) is not supported');
  if (mem.limits.flags & 2) throw new InvalidModuleError('shared memory (threads) is not supported');
}
