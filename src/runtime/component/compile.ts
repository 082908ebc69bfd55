/**
 * A transpiled component (transpiler.ts) made ready to run: each core module rewritten as a
 * preview 1 module is (module/rewrite.ts: its memory becomes the import `spindle.memory` so the
 * task's cap applies, a failed memory.grow raises a flag, tables get maximums) and compiled. What
 * the runtime needs to size a run comes with it: the memory the program starts with and its
 * tables' elements, summed over the cores.
 *
 * For a run with a fuel budget every core is metered against one budget, a global they all import
 * (`sharedFuel`): the program's core, jco's preview 1 adapter and its shims alike, so fuelUsed
 * counts every instruction the component executed (the glue's JavaScript, like the WASI host, is not).
 */
import { TABLE_ELEMENTS_DEFAULT } from '../../domain/index.js';
import { prepareModule } from '../module/index.js';
import { readStructure } from '../module/structure.js';
import type { ComponentCode, ComponentCore, Transpiled } from './code.js';

export interface CompiledComponent {
  code: ComponentCode;
  /** The initial pages of every memory the cores define, and the first one's declared maximum. */
  memory: { initialPages: number; maximumPages: number | null } | null;
}

/** Cores up to this size compile on this thread (cache.ts measured it for modules); larger ones in V8's background. */
const SYNC_COMPILE_BYTES = 512 * 1024;

export async function compileComponent(t: Transpiled, fuel: boolean, maxTableElements = TABLE_ELEMENTS_DEFAULT): Promise<CompiledComponent> {
  const structures = Object.entries(t.cores).map(([name, bytes]) => ({ name, bytes, m: readStructure(bytes) }));
  // MAX_TABLE_ELEMENTS is one budget for the component: what the cores' tables declare, plus an
  // even share of the rest for each core that defines tables (prepareModule caps each core's tables).
  const defined = structures.map(({ m }) => m.tables.slice(m.numTableImports).reduce((sum, table) => sum + table.min, 0));
  const tableElements = defined.reduce((a, b) => a + b, 0);
  const withTables = structures.filter(({ m }) => m.tables.length > m.numTableImports).length;
  const share = withTables > 0 ? Math.floor(Math.max(0, maxTableElements - tableElements) / withTables) : 0;
  const cores: Record<string, ComponentCore> = {};
  let initialPages = 0;
  let maximumPages: number | null | undefined;
  for (const [i, { name, bytes, m }] of structures.entries()) {
    const mem = m.memories[0];
    const imported = mem !== undefined && mem.importIndex !== null;
    const prepared = prepareModule(bytes, { fuel, sharedFuel: fuel, fast: true, maxTableElements: defined[i]! + share });
    cores[name] = {
      module: prepared.bytes.length <= SYNC_COMPILE_BYTES ? new WebAssembly.Module(prepared.bytes) : await WebAssembly.compile(prepared.bytes),
      memory: prepared.memory && { ...prepared.memory, imported },
      growFailedExport: prepared.exports.growFailed,
      definesTables: m.tables.length > m.numTableImports,
      fuel,
    };
    if (prepared.memory && !imported) {
      initialPages += prepared.memory.initialPages;
      if (maximumPages === undefined) maximumPages = prepared.memory.maximumPages;
    }
  }
  return {
    code: { glue: t.js, cores, tableElements, definedPages: initialPages },
    memory: maximumPages === undefined ? null : { initialPages, maximumPages },
  };
}
