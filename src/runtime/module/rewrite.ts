/**
 * prepareModule: one pass over the sections that moves the memory into the import section as
 * `spindle`.`memory`, routes `memory.grow` through an appended wrapper that records failures,
 * gives every table a maximum (so `table.grow` past the module's share of `maxTableElements`
 * returns -1), and optionally meters fuel. Only *appends* types, functions and globals, so no
 * index of the original module changes: element segments, the start function, exports and the
 * name section stay valid and are copied as they are (custom sections are all kept, in place).
 */
import { TABLE_ELEMENTS_DEFAULT } from '../../domain/index.js';
import { rewriteCode } from './code.js';
import { checkCommand, type HostImports } from './command.js';
import { InvalidModuleError } from './errors.js';
import { FUEL_UNSET } from './fuel.js';
import { Writer } from './leb.js';
import { Reader, SECTION_ORDER, SectionId, type Section } from './reader.js';
import { checkMemories, readStructure, TYPE_I32_I32, type Limits, type ModuleStructure } from './structure.js';

export const MEMORY_IMPORT = { module: 'spindle', name: 'memory' } as const;
/** The fuel global a module with `sharedFuel` imports (mutable i64): one budget for several modules. */
export const FUEL_IMPORT = { module: 'spindle', name: 'fuel' } as const;
export const GROW_FAILED_EXPORT = '__spindle_grow_failed';
export const FUEL_EXPORT = '__spindle_fuel';
/** Export names a guest may not use (they would clash with the ones Spindle adds). */
export const RESERVED_EXPORT_PREFIX = '__spindle_';

export interface PreparedModule {
  /** The rewritten binary. */
  bytes: Uint8Array;
  /** What to create and pass as `imports.spindle.memory`; null when the module has no memory. */
  memory: { initialPages: number; maximumPages: number | null } | null;
  /** Exported globals: i32 set to 1 when a memory.grow returned -1; i64 fuel remaining. */
  exports: { growFailed: string; fuel: string | null };
}

export interface PrepareOptions {
  /** Meter fuel (every body is then decoded and instrumented). */
  fuel: boolean;
  /**
   * With `fuel`: import the fuel global (FUEL_IMPORT) instead of defining and exporting it, so
   * the core modules of one component draw on one budget. The import comes after the module's
   * own global imports, so every defined global's index moves up by one: `global.get`/`global.set`
   * in code and the exports of globals are renumbered. Constant expressions keep their indices:
   * Node 20's V8 lets them read imported globals only, which do not move. (A name section's
   * global names are left as they are, one off.) After every call, imported functions included
   * (another module may have charged the budget), the function reloads its local copy.
   */
  sharedFuel?: boolean;
  /**
   * Without fuel, copy function bodies that cannot contain `memory.grow` (a byte filter)
   * instead of decoding them: several times faster on large modules. Such bodies are then
   * validated only by V8 when the result is compiled, so use it where a CompileError is
   * handled as well (the worker pool's compile path), not where InvalidModuleError is the
   * only answer expected.
   */
  fast?: boolean;
  /**
   * Also refuse what registration refuses about imports and `_start` (checkCommand): the run
   * path also takes modules that never went through registration, and a module that would call
   * a host function with the wrong types must end `invalid_module`, not mid-run.
   */
  host?: HostImports;
  /**
   * Most elements the module's tables may hold together, grown or not (MAX_TABLE_ELEMENTS).
   * Without a maximum a table grows as far as V8 allows (10M elements each, any number of
   * tables), and a grown table lives on the worker's JavaScript heap: measured, 20 tables grown
   * by 10M elements each took the whole process down ("Reached heap limit"), not only the worker.
   * Default: TABLE_ELEMENTS_DEFAULT.
   */
  maxTableElements?: number;
}

/**
 * The maximum each defined table gets: its declared one where that fits, else its initial size
 * plus an even share of what the limit leaves after every table's initial size (water-filling:
 * a table that needs less than its share leaves the rest to the others).
 */
export function tableMaximums(tables: readonly Limits[], limit: number): number[] {
  let left = Math.max(0, limit - tables.reduce((sum, t) => sum + t.min, 0));
  const room = tables.map((t) => (t.max === null ? Infinity : Math.max(0, t.max - t.min)));
  const maximums = tables.map((t) => t.min);
  const order = room.map((_, i) => i).sort((a, b) => room[a]! - room[b]!);
  order.forEach((i, k) => {
    const give = Math.min(room[i]!, Math.floor(left / (order.length - k)));
    maximums[i]! += give;
    left -= give;
  });
  return maximums;
}

/** A table section with every table's limits replaced by `min, max` (flag 0x01). */
function rewriteTables(bytes: Uint8Array, s: Section, tables: readonly Limits[], maximums: readonly number[], out: Writer): boolean {
  const r = new Reader(bytes, s.start, s.end);
  out.u32(r.u32());
  let from = r.pos;
  tables.forEach((t, i) => {
    out.copy(bytes, from, t.start).byte(0x01).u32(t.min).u32(maximums[i]!);
    from = t.end;
  });
  out.copy(bytes, from, s.end);
  return true;
}

/** Parameter count of a function type kept as latin1 bytes (`0x60`, LEB128 count, …). */
function paramCount(type: string): number {
  let n = 0;
  let scale = 1;
  for (let i = 1; i < type.length && i < 6; i++) {
    const b = type.charCodeAt(i);
    n += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) break;
    scale *= 128;
  }
  return n;
}

type Transform = (s: Section | null, out: Writer) => boolean;

/** Copy a vector section and append `extra` already-encoded items to it. */
function appendVec(bytes: Uint8Array, s: Section | null, out: Writer, extra: Writer, n: number): boolean {
  const r = new Reader(bytes, s ? s.start : 0, s ? s.end : 0);
  const count = s ? r.u32() : 0;
  out.u32(count + n).copy(bytes, r.pos, r.end).append(extra);
  return count + n > 0;
}

/** `(func (param i32) (result i32) local.get 0 memory.grow local.tee 0 i32.const -1 i32.eq if …)` */
function growBody(growFailed: number): Uint8Array {
  const body = new Writer(32)
    .byte(0x00) // no locals
    .byte(0x20).byte(0x00).byte(0x40).byte(0x00).byte(0x22).byte(0x00)
    .byte(0x41).byte(0x7f).byte(0x46).byte(0x04).byte(0x40)
    .byte(0x41).byte(0x01).byte(0x24).u32(growFailed).byte(0x0b)
    .byte(0x20).byte(0x00).byte(0x0b);
  return new Writer(40).u32(body.len).append(body).toBytes();
}

/** The export section with every exported defined global's index moved up by one (sharedFuel). */
function shiftGlobalExports(bytes: Uint8Array, s: Section, firstDefined: number, out: Writer, extra: Writer, n: number): boolean {
  const r = new Reader(bytes, s.start, s.end);
  const count = r.u32();
  out.u32(count + n);
  for (let i = 0; i < count; i++) {
    const start = r.pos;
    r.name();
    const kind = r.byte();
    const indexAt = r.pos; // the index as written: a LEB128 may be padded
    const index = r.u32();
    if (kind === 0x03 && index >= firstDefined) {
      out.copy(bytes, start, indexAt).u32(index + 1);
    } else {
      out.copy(bytes, start, r.pos);
    }
  }
  out.append(extra);
  return true;
}

function transforms(bytes: Uint8Array, m: ModuleStructure, fuel: boolean, shared: boolean, fast: boolean, maxTableElements: number): Map<number, Transform> {
  const mem = m.memories[0] ?? null;
  let growType = m.types.indexOf(TYPE_I32_I32);
  const addType = mem !== null && growType < 0;
  if (growType < 0) growType = m.types.length;
  // sharedFuel: the fuel global is imported after the module's own global imports (index
  // numGlobalImports), so every defined global, and the appended grow flag, moves up by one.
  const shift = shared ? 1 : 0;
  const growFailed = m.numGlobalImports + shift + m.numDefinedGlobals;
  const fuelGlobal = !fuel ? null : shared ? m.numGlobalImports : growFailed + 1;
  const t = new Map<number, Transform>();
  const fuelImport = new Writer(32);
  if (shared) fuelImport.name(FUEL_IMPORT.module).name(FUEL_IMPORT.name).byte(0x03).byte(0x7e).byte(0x01);

  if (addType) {
    const entry = new Writer(8).byte(0x60).byte(1).byte(0x7f).byte(1).byte(0x7f);
    t.set(SectionId.Type, (s, out) => appendVec(bytes, s, out, entry, 1));
  }
  if (mem) {
    const memImport = new Writer(32).name(MEMORY_IMPORT.module).name(MEMORY_IMPORT.name).byte(0x02);
    memImport.copy(bytes, mem.limits.start, mem.limits.end);
    if (mem.importIndex === null) {
      t.set(SectionId.Import, (s, out) => appendVec(bytes, s, out, memImport.append(fuelImport), 1 + shift));
      t.set(SectionId.Memory, () => false); // its only memory moved into the import section
    } else {
      const old = m.imports[mem.importIndex]!;
      // The memory entry renamed in place (limits unchanged), the fuel import appended.
      t.set(SectionId.Import, (s, out) => {
        const r = new Reader(bytes, s!.start, s!.end);
        out.u32(r.u32() + shift).copy(bytes, r.pos, old.start).append(memImport).copy(bytes, old.end, s!.end).append(fuelImport);
        return true;
      });
    }
    t.set(SectionId.Function, (s, out) => appendVec(bytes, s, out, new Writer(8).u32(growType), 1));
  }
  const defined = m.tables.slice(m.numTableImports);
  if (defined.some((table) => table.flags & 4)) throw new InvalidModuleError('table64 (a 64-bit table) is not supported');
  if (defined.length > 0) {
    const maximums = tableMaximums(defined, maxTableElements);
    t.set(SectionId.Table, (s, out) => rewriteTables(bytes, s!, defined, maximums, out));
  }
  if (shared && !mem) t.set(SectionId.Import, (s, out) => appendVec(bytes, s, out, fuelImport, 1));
  const ownFuel = fuel && !shared;
  const globals = new Writer(32).byte(0x7f).byte(0x01).byte(0x41).byte(0x00).byte(0x0b);
  if (ownFuel) globals.byte(0x7e).byte(0x01).byte(0x42).s64(FUEL_UNSET).byte(0x0b);
  t.set(SectionId.Global, (s, out) => appendVec(bytes, s, out, globals, ownFuel ? 2 : 1));
  const exports = new Writer(64).name(GROW_FAILED_EXPORT).byte(0x03).u32(growFailed);
  if (ownFuel) exports.name(FUEL_EXPORT).byte(0x03).u32(fuelGlobal!);
  t.set(SectionId.Export, (s, out) =>
    shared && s !== null ? shiftGlobalExports(bytes, s, m.numGlobalImports, out, exports, 1) : appendVec(bytes, s, out, exports, ownFuel ? 2 : 1),
  );

  const code = {
    growFunc: mem ? m.funcTypes.length : null, // appended after every existing function
    fuelGlobal,
    params: (defined: number) => paramCount(m.types[m.funcTypes[m.numFuncImports + defined]!] ?? ''),
    extraBodies: mem ? [growBody(growFailed)] : [],
    firstFunc: m.numFuncImports,
    callsMayThrow: m.sections.some((s) => s.id === SectionId.Tag) || m.imports.some((i) => i.kind === 'tag'),
    skipClean: fast && !fuel,
    globalShift: shared ? m.numGlobalImports : null,
  };
  t.set(SectionId.Code, (s, out) => {
    rewriteCode(bytes, s, code, out);
    return s !== null || code.extraBodies.length > 0;
  });
  return t;
}

/**
 * Rewrite a module for the worker pool (see PreparedModule). Throws InvalidModuleError when the
 * module is malformed or uses something the runtime cannot host (several memories, memory64,
 * shared memory, GC types, an unknown opcode, an export under the reserved `__spindle_` prefix;
 * with `host`, also an import the host does not provide or types differently, or no `_start`).
 */
export function prepareModule(bytes: Uint8Array, opts: PrepareOptions): PreparedModule {
  const m = readStructure(bytes);
  checkMemories(m);
  if (opts.host !== undefined) checkCommand(m, opts.host); // in inspectModule's order: same module, same message
  const reserved = m.exports.find((e) => e.name.startsWith(RESERVED_EXPORT_PREFIX));
  if (reserved) throw new InvalidModuleError(`export name "${reserved.name}" is reserved (prefix "${RESERVED_EXPORT_PREFIX}")`);
  // The namespace of what Spindle gives (memory, fuel): a module that imports from it itself could
  // be handed its own budget to refill (a component's core modules skip the host check above).
  const own = m.imports.find((i) => i.module === MEMORY_IMPORT.module);
  if (own) throw new InvalidModuleError(`import "${own.module}"."${own.name}" is reserved (module "${MEMORY_IMPORT.module}" is Spindle's own)`);

  if (opts.sharedFuel && !opts.fuel) throw new Error('prepareModule: sharedFuel needs fuel');
  const t = transforms(bytes, m, opts.fuel, opts.sharedFuel === true, opts.fast === true, opts.maxTableElements ?? TABLE_ELEMENTS_DEFAULT);
  // One buffer, sized so it rarely grows (fuel adds ~20 bytes per function and loop): the
  // rewrite of a large module should allocate and copy it about once.
  const out = new Writer(Math.ceil(bytes.length * (opts.fuel ? 1.25 : 1)) + 4096);
  out.copy(bytes, 0, 8);
  const emit = (id: number, s: Section | null) => {
    const transform = t.get(id);
    if (!transform) return void out.copy(bytes, s!.headerStart, s!.end);
    // Rewritten sections go straight into `out` behind a padded 5-byte size (valid LEB128),
    // filled in afterwards, instead of through a second buffer.
    const start = out.len;
    const sizeAt = out.byte(id).reserve5();
    if (transform(s, out)) out.patch5(sizeAt, out.len - sizeAt - 5);
    else out.len = start; // the section ends up empty: drop it
  };
  const present = new Set(m.sections.map((s) => s.id));
  const missing = [...t.keys()].filter((id) => !present.has(id)).sort((a, b) => SECTION_ORDER[a]! - SECTION_ORDER[b]!);
  let next = 0;
  for (const s of m.sections) {
    if (s.id !== SectionId.Custom) {
      while (next < missing.length && SECTION_ORDER[missing[next]!]! < SECTION_ORDER[s.id]!) emit(missing[next++]!, null);
    }
    emit(s.id, s);
  }
  while (next < missing.length) emit(missing[next++]!, null);

  const mem = m.memories[0];
  return {
    bytes: out.toBytes(),
    memory: mem ? { initialPages: mem.limits.min, maximumPages: mem.limits.max } : null,
    exports: { growFailed: GROW_FAILED_EXPORT, fuel: opts.fuel && !opts.sharedFuel ? FUEL_EXPORT : null },
  };
}
