/**
 * The world of a WebAssembly component: the names of its top-level imports and exports, read
 * from the binary (component model, binary format version 0x0d, layer 1: design/mvp/Binary.md of
 * WebAssembly/component-model), and the check that it is a WASI 0.2 command Spindle can host.
 *
 * The world is the outer component's import (10) and export (11) sections; every other section
 * is skipped by its length (nested components, core modules and types are internal: whatever they
 * import must come through the outer imports). coreNames also reads the core names inside (core
 * modules, core instances, aliases, nested components). Names are read before anything else sees
 * the component, so a refusal can name them and nothing from a refused component is handed to a
 * code generator.
 */
import { InvalidModuleError } from '../module/errors.js';
import { Reader } from '../module/reader.js';
import { readStructure } from '../module/structure.js';
import type { ComponentSort } from '../types.js';

export type { ComponentSort } from '../types.js';

/** `\0asm`, version 0x0d 0x00, layer 0x01 0x00: the pre-standard component preamble. */
const PREAMBLE = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00] as const;
const CORE_MODULE_SECTION = 1;
const CORE_INSTANCE_SECTION = 2;
const COMPONENT_SECTION = 4;
const ALIAS_SECTION = 6;
const IMPORT_SECTION = 10;
const EXPORT_SECTION = 11;


export interface ComponentName {
  /** The extern name as written, e.g. `wasi:cli/run@0.2.3` or `greet`. */
  name: string;
  sort: ComponentSort;
}

export interface ComponentWorld {
  imports: ComponentName[];
  exports: ComponentName[];
}

/** Whether the bytes start with a component's preamble (and not a core module's). */
export function isComponent(bytes: Uint8Array): boolean {
  return bytes.length >= PREAMBLE.length && PREAMBLE.every((b, i) => bytes[i] === b);
}

const componentAt = (offset: number, what: string) =>
  new InvalidModuleError(`malformed component at offset ${offset}: ${what}`, { offset });

/** The sorts of `externtype` (imports) and of `sort` (exports), by their opcode. */
const SORTS: Record<number, ComponentSort> = { 0x01: 'func', 0x02: 'value', 0x03: 'type', 0x04: 'component', 0x05: 'instance' };

/** `nameattributes`: the extern name; its attributes (implements, version suffix, id) are skipped. */
function externName(r: Reader): string {
  const at = r.pos;
  const kind = r.byte();
  if (kind > 0x02) throw componentAt(at, `unknown name encoding 0x${kind.toString(16)}`);
  const name = r.name();
  if (kind === 0x02) {
    for (let n = r.u32(); n > 0; n--) {
      const attrAt = r.pos;
      const attr = r.byte();
      if (attr > 0x02) throw componentAt(attrAt, `unknown name attribute 0x${attr.toString(16)}`);
      r.name();
    }
  }
  return name;
}

/** `externtype`: its sort; the type index or bound after it is skipped. */
function externType(r: Reader): ComponentSort {
  const at = r.pos;
  const op = r.byte();
  switch (op) {
    case 0x00:
      if (r.byte() !== 0x11) throw componentAt(at, 'a core extern type other than module');
      r.u32();
      return 'core-module';
    case 0x01:
    case 0x04:
    case 0x05:
      r.u32();
      return SORTS[op]!;
    case 0x02:
    case 0x03: {
      const bound = r.byte();
      if (bound === 0x00) r.u32();
      else if (bound !== 0x01) throw componentAt(at, `unknown type bound 0x${bound.toString(16)}`);
      // A value import's inline value type (🪙, not in any toolchain's output) would follow here.
      else if (op === 0x02) throw componentAt(at, 'value imports are not supported');
      return SORTS[op]!;
    }
    default:
      throw componentAt(at, `unknown extern type 0x${op.toString(16)}`);
  }
}

/** `sort` of an export's `sortidx`: 0x00 + a core sort, or a component sort. */
function exportSort(r: Reader): ComponentSort {
  const at = r.pos;
  const op = r.byte();
  if (op === 0x00) {
    const core = r.byte();
    if (core !== 0x11) throw componentAt(at, 'exports a core definition other than a module');
    return 'core-module';
  }
  const sort = SORTS[op];
  if (!sort) throw componentAt(at, `unknown sort 0x${op.toString(16)}`);
  return sort;
}

/** Throws unless the bytes start with a component's preamble. */
function requireComponent(bytes: Uint8Array): void {
  if (!isComponent(bytes)) throw new InvalidModuleError('not a WebAssembly component (no component preamble)');
}

/** The sections of the component in bytes[from, to) (its preamble first), each within bounds. */
function* sections(bytes: Uint8Array, from: number, to: number): Generator<{ id: number; s: Reader; end: number }> {
  const r = new Reader(bytes, from + PREAMBLE.length, to);
  while (r.pos < to) {
    const header = r.pos;
    const id = r.byte();
    const size = r.u32();
    const body = r.pos;
    const end = body + size;
    if (id > 12) throw componentAt(header, `unknown section id ${id}`);
    if (end > to) throw componentAt(header, `section ${id} runs past the end (${size} bytes declared, ${to - body} there)`);
    yield { id, s: new Reader(bytes, body, end), end };
    r.pos = end;
  }
}

/** A decoded section must use exactly its declared size. */
function consumed(s: Reader, id: number): void {
  if (s.pos !== s.end) throw componentAt(s.pos, `section ${id} has ${s.end - s.pos} bytes left over`);
}

/** The outer component's imports and exports, in the order they are declared. */
export function readComponentWorld(bytes: Uint8Array): ComponentWorld {
  requireComponent(bytes);
  const world: ComponentWorld = { imports: [], exports: [] };
  for (const { id, s } of sections(bytes, 0, bytes.length)) {
    if (id !== IMPORT_SECTION && id !== EXPORT_SECTION) continue;
    for (let n = s.u32(); n > 0; n--) {
      const name = externName(s);
      if (id === IMPORT_SECTION) {
        world.imports.push({ name, sort: externType(s) });
        continue;
      }
      const sort = exportSort(s);
      s.u32(); // the index of what is exported
      const typed = s.byte(); // an optional extern type the export is ascribed
      if (typed === 0x01) externType(s);
      else if (typed !== 0x00) throw componentAt(s.pos - 1, `bad export type flag 0x${typed.toString(16)}`);
      world.exports.push({ name, sort });
    }
    consumed(s, id);
  }
  return world;
}

/**
 * The WASI 0.2 interfaces a Spindle task may import, by package and interface: what a command
 * built by wasi-libc's preview1 adapter, Rust's wasm32-wasip2, TinyGo or componentize-js/-py
 * uses for its I/O, clocks and randomness. Sockets, HTTP and anything not WASI are refused.
 */
export const WASI_P2_INTERFACES: ReadonlySet<string> = new Set([
  'wasi:cli/environment',
  'wasi:cli/exit',
  'wasi:cli/stdin',
  'wasi:cli/stdout',
  'wasi:cli/stderr',
  'wasi:cli/terminal-input',
  'wasi:cli/terminal-output',
  'wasi:cli/terminal-stdin',
  'wasi:cli/terminal-stdout',
  'wasi:cli/terminal-stderr',
  'wasi:io/error',
  'wasi:io/poll',
  'wasi:io/streams',
  'wasi:clocks/monotonic-clock',
  'wasi:clocks/wall-clock',
  'wasi:random/random',
  'wasi:random/insecure',
  'wasi:random/insecure-seed',
  'wasi:filesystem/types',
  'wasi:filesystem/preopens',
]);

/** The command entry point every runnable component exports, at any 0.2 version. */
export const RUN_INTERFACE = 'wasi:cli/run';

/** `ns:pkg/iface@0.2.x` (a 0.2 release, optionally with a pre-release or build suffix) → `ns:pkg/iface`; null otherwise. */
function p2Interface(name: string): string | null {
  const m = /^([a-z][a-z0-9-]*:[a-z][a-z0-9-]*\/[a-z][a-z0-9-]*)@0\.2\.(0|[1-9]\d*)(?:[-+][0-9A-Za-z.+-]+)?$/.exec(name);
  return m ? m[1]! : null;
}

/**
 * Refuses a component that is not a WASI 0.2 command Spindle can host: it must export
 * `wasi:cli/run@0.2.x` as an instance and import only the interfaces in WASI_P2_INTERFACES, as
 * instances, at 0.2 versions. Every import that is not allowed is named.
 */
export function checkCommandWorld(world: ComponentWorld): void {
  const refused = world.imports.filter((i) => {
    const iface = p2Interface(i.name);
    return i.sort !== 'instance' || iface === null || !WASI_P2_INTERFACES.has(iface);
  });
  if (refused.length > 0) {
    const names = refused.map((i) => JSON.stringify(i.name)).join(', ');
    throw new InvalidModuleError(
      `component imports what Spindle does not provide: ${names}; a task may import only these WASI 0.2 interfaces: ${[...WASI_P2_INTERFACES].join(', ')}`,
      { imports: refused.map((i) => i.name) },
    );
  }
  if (!world.exports.some((e) => e.sort === 'instance' && p2Interface(e.name) === RUN_INTERFACE)) {
    const exported = world.exports.map((e) => JSON.stringify(e.name)).join(', ') || 'nothing';
    throw new InvalidModuleError(`component is not a WASI command: it must export ${RUN_INTERFACE}@0.2.x (it exports ${exported})`);
  }
}

/**
 * What a core name inside a component may hold: the characters toolchains use for them
 * (`wasi_snapshot_preview1`, `[method]descriptor.read-via-stream`, `wasi:cli/exit@0.2.3`,
 * `$root`, `cabi_realloc`, `0`, …). Component-level names are held to the component model's
 * kebab-case grammar by the validator of the transpiler; core names are any UTF-8, and the
 * transpiler (jco 1.x) writes them into the generated JavaScript between quotes without escaping
 * them, so a quote in one would end the string and the rest would run as code.
 */
const SAFE_CORE_NAME = /^[A-Za-z0-9_.:/@$#+\-[\]]*$/;

/**
 * Every core name of a component, here and in its nested components: the import and export
 * names of its core modules, the arguments and inline exports of its core instances, and the
 * names its aliases take from core instances. These are the names a transpiler copies into the
 * JavaScript it generates.
 */
export function coreNames(bytes: Uint8Array): string[] {
  requireComponent(bytes);
  const names: string[] = [];
  walkCoreNames(bytes, 0, bytes.length, names);
  return names;
}

function walkCoreNames(bytes: Uint8Array, from: number, to: number, names: string[]): void {
  for (const { id, s, end } of sections(bytes, from, to)) {
    switch (id) {
      case CORE_MODULE_SECTION: {
        const m = readStructure(bytes.subarray(s.pos, end));
        for (const i of m.imports) names.push(i.module, i.name);
        for (const e of m.exports) names.push(e.name);
        continue;
      }
      case CORE_INSTANCE_SECTION:
        for (let n = s.u32(); n > 0; n--) {
          const at = s.pos;
          const form = s.byte();
          if (form === 0x00) {
            s.u32(); // the module
            for (let a = s.u32(); a > 0; a--) {
              names.push(s.name());
              if (s.byte() !== 0x12) throw componentAt(s.pos - 1, 'a core instantiation argument that is not an instance');
              s.u32();
            }
          } else if (form === 0x01) {
            for (let e = s.u32(); e > 0; e--) {
              names.push(s.name());
              s.byte(); // core sort
              s.u32();
            }
          } else throw componentAt(at, `unknown core instance form 0x${form.toString(16)}`);
        }
        break;
      case COMPONENT_SECTION:
        if (!isComponent(bytes.subarray(s.pos, end))) throw componentAt(s.pos, 'a nested component without a component preamble');
        walkCoreNames(bytes, s.pos, end, names);
        continue;
      case ALIAS_SECTION:
        for (let n = s.u32(); n > 0; n--) {
          const at = s.pos;
          if (s.byte() === 0x00) s.byte(); // a core sort
          const target = s.byte();
          if (target === 0x00 || target === 0x01) {
            s.u32();
            const name = s.name();
            if (target === 0x01) names.push(name); // a core instance's export
          } else if (target === 0x02) {
            s.u32();
            s.u32();
          } else throw componentAt(at, `unknown alias target 0x${target.toString(16)}`);
        }
        break;
      default:
        continue;
    }
    consumed(s, id);
  }
}

/** Refuses a component with a core name a transpiler must not copy into code (SAFE_CORE_NAME), naming it. */
export function checkCoreNames(bytes: Uint8Array): void {
  const unsafe = [...new Set(coreNames(bytes).filter((n) => !SAFE_CORE_NAME.test(n)))];
  if (unsafe.length > 0) {
    throw new InvalidModuleError(
      `component has core import or export names with characters Spindle does not accept (letters, digits and _ . : / @ $ # + - [ ] only): ${unsafe.slice(0, 5).map((n) => JSON.stringify(n)).join(', ')}${unsafe.length > 5 ? `, and ${unsafe.length - 5} more` : ''}`,
      { names: unsafe.slice(0, 20) },
    );
  }
}
