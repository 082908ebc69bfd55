/**
 * The world of a component (runtime/component/world.ts): its imports and exports read from the
 * binary, and the check that it is a WASI 0.2 command importing only what Spindle provides. The
 * fixtures are built by test/fixtures/components/build.sh; hand-made binaries cover names no
 * toolchain would write.
 */
import { describe, expect, it } from 'vitest';
import { checkCommandWorld, checkCoreNames, coreNames, isComponent, readComponentWorld, WASI_P2_INTERFACES, type ComponentWorld } from '../../src/runtime/component/world.js';
import { InvalidModuleError } from '../../src/runtime/index.js';
import { loadComponent, loadWasm } from '../helpers/fixtures.js';

const PREAMBLE = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
const enc = (s: string) => [...new TextEncoder().encode(s)];
const uleb = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...uleb(n >>> 7)]);
const name = (s: string) => [...uleb(enc(s).length), ...enc(s)];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
/** A component binary whose import section imports each name as an instance of type 0. */
const importing = (...names: string[]) =>
  new Uint8Array([...PREAMBLE, ...section(10, [...uleb(names.length), ...names.flatMap((n) => [0x00, ...name(n), 0x05, 0x00])])]);
const world = (imports: string[], exports = ['wasi:cli/run@0.2.3']): ComponentWorld => ({
  imports: imports.map((n) => ({ name: n, sort: 'instance' })),
  exports: exports.map((n) => ({ name: n, sort: 'instance' })),
});
const refusal = (fn: () => void): InvalidModuleError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidModuleError);
    return err as InvalidModuleError;
  }
  throw new Error('not refused');
};

describe('reading a component world', () => {
  it('reads the imports and exports of a C program made a component by the preview1 adapter', async () => {
    const w = readComponentWorld(await loadComponent('sha256sum.component'));
    expect(w.exports).toEqual([{ name: 'wasi:cli/run@0.2.12', sort: 'instance' }]);
    expect(w.imports.map((i) => i.name)).toContain('wasi:filesystem/preopens@0.2.12');
    expect(w.imports.every((i) => i.sort === 'instance')).toBe(true);
  });

  it('tells a component from a core module', async () => {
    expect(isComponent(await loadComponent('copy.component'))).toBe(true);
    expect(isComponent(await loadWasm('copy'))).toBe(false);
    expect(isComponent(new Uint8Array(PREAMBLE.slice(0, 7)))).toBe(false);
    expect(() => readComponentWorld(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]))).toThrow(/not a WebAssembly component/);
  });

  it('refuses a truncated or unknown section with its offset', () => {
    const bytes = importing('wasi:cli/stdout@0.2.3');
    expect(() => readComponentWorld(bytes.slice(0, bytes.length - 2))).toThrow(/malformed component at offset 8: section 10 runs past the end \(26 bytes declared, 24 there\)/);
    expect(() => readComponentWorld(new Uint8Array([...PREAMBLE, 13, 0]))).toThrow(/malformed component at offset 8: unknown section id 13/);
    expect(() => readComponentWorld(new Uint8Array([...PREAMBLE, ...section(10, [1, 0x07, ...name('x'), 0x05, 0])]))).toThrow(/unknown name encoding 0x7/);
  });

  it('keeps a hostile name as data: JavaScript quoting is read as text and refused by name', () => {
    const hostile = "wasi:cli/stdout@0.2.3'];globalThis.pwned=1;//\"\\u0027`${1}`";
    const w = readComponentWorld(importing(hostile));
    expect(w.imports[0]!.name).toBe(hostile);
    const err = refusal(() => checkCommandWorld(w));
    expect(err.message).toContain(JSON.stringify(hostile));
    expect((globalThis as { pwned?: number }).pwned).toBeUndefined();
  });
});

describe('what a task component may import', () => {
  it('accepts every C fixture made a component', async () => {
    for (const n of ['copy', 'interp', 'malloc_until_null', 'sha256sum']) checkCommandWorld(readComponentWorld(await loadComponent(`${n}.component`)));
  });

  it('refuses imports Spindle does not provide, naming every one', async () => {
    const bytes = await loadComponent('foreign_import');
    const err = refusal(() => checkCommandWorld(readComponentWorld(bytes)));
    expect(err.message).toMatch(/^component imports what Spindle does not provide: "wasi:sockets\/tcp@0.2.3", "phone-home"; a task may import only these WASI 0.2 interfaces: wasi:cli\/environment/);
    expect(err.details).toEqual({ imports: ['wasi:sockets/tcp@0.2.3', 'phone-home'] });
  });

  it('accepts 0.2 releases and their pre-releases, refuses other versions and unversioned names', () => {
    for (const v of ['0.2.0', '0.2.3', '0.2.12', '0.2.0-rc-2023-11-10', '0.2.1+build.5']) checkCommandWorld(world([`wasi:io/streams@${v}`], [`wasi:cli/run@${v}`]));
    for (const n of ['wasi:io/streams@0.3.0', 'wasi:io/streams@0.1.0', 'wasi:io/streams', 'wasi:io/streams@0.2', 'wasi:io/streams@0.2.01', 'WASI:io/streams@0.2.0']) {
      expect(refusal(() => checkCommandWorld(world([n]))).message).toContain(JSON.stringify(n));
    }
  });

  it('accepts every allowed interface, and refuses one imported as a function rather than an instance', () => {
    checkCommandWorld(world([...WASI_P2_INTERFACES].map((i) => `${i}@0.2.3`)));
    const w: ComponentWorld = { imports: [{ name: 'wasi:cli/exit@0.2.3', sort: 'func' }], exports: world([]).exports };
    expect(refusal(() => checkCommandWorld(w)).message).toContain('"wasi:cli/exit@0.2.3"');
  });

  it('refuses a component that exports no wasi:cli/run, naming what it exports', async () => {
    const bytes = await loadComponent('not_command');
    const err = refusal(() => checkCommandWorld(readComponentWorld(bytes)));
    expect(err.message).toBe('component is not a WASI command: it must export wasi:cli/run@0.2.x (it exports "greet")');
    expect(refusal(() => checkCommandWorld(world([], ['wasi:cli/run@0.3.0']))).message).toMatch(/it exports "wasi:cli\/run@0.3.0"/);
    expect(refusal(() => checkCommandWorld(world([], []))).message).toMatch(/it exports nothing\)$/);
  });
});

describe('core names inside a component', () => {
  it("reads the core modules', instances' and aliases' names of an adapted C program, and accepts them", async () => {
    const bytes = await loadComponent('sha256sum.component');
    const names = coreNames(bytes);
    expect(names).toEqual(expect.arrayContaining(['wasi_snapshot_preview1', 'fd_write', '_start', '[method]output-stream.blocking-flush', 'wasi:cli/environment@0.2.12', 'memory']));
    checkCoreNames(bytes);
  });

  it('refuses names that would be code in a transpiler\'s output, naming each, before any tool sees them', async () => {
    const bytes = await loadComponent('hostile_names');
    checkCommandWorld(readComponentWorld(bytes)); // a well-formed WASI command otherwise
    const err = refusal(() => checkCoreNames(bytes));
    const expected = ["x'];globalThis.pwned=1;//", 'y"+(globalThis.pwned=2)+"', "run'+(globalThis.pwned=3)+'", '${globalThis.pwned=4}'];
    expect(err.message).toBe(`component has core import or export names with characters Spindle does not accept (letters, digits and _ . : / @ $ # + - [ ] only): ${expected.map((n) => JSON.stringify(n)).join(', ')}`);
    expect(err.details).toEqual({ names: expected });
    expect((globalThis as { pwned?: number }).pwned).toBeUndefined();
  });

  it('lists at most five names in the message and counts the rest', () => {
    // A core instance section (id 2) of one inline-export instance exporting seven unsafe names.
    const unsafe = Array.from({ length: 7 }, (_, i) => `n'${i}`);
    const body = [1, 0x01, ...uleb(unsafe.length), ...unsafe.flatMap((n, i) => [...name(n), 0x00, i])];
    const err = refusal(() => checkCoreNames(new Uint8Array([...PREAMBLE, ...section(2, body)])));
    expect(err.message).toMatch(/"n'3", "n'4", and 2 more$/);
  });
});
