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
import { prepareModule } from '../module/index.js';
import { readStructure } from '../module/structure.js';
import type { ComponentCode, ComponentCore, Transpiled } from './code.js';

export interface CompiledComponent {
  code: ComponentCode;
  /** The initial pages of every memory the cores define, and the first one's declared maximum. */
  memory: { initialPages: number; maximumPages: number | null } | null;
}

export function compileComponent(t: Transpiled, fuel: boolean, maxTableElements?: number): CompiledComponent {
  const cores: Record<string, ComponentCore> = {};
  let initialPages = 0;
  let maximumPages: number | null | undefined;
  let tableElements = 0;
  for (const [name, bytes] of Object.entries(t.cores)) {
    const m = readStructure(bytes);
    const mem = m.memories[0];
    const imported = mem !== undefined && mem.importIndex !== null;
    const prepared = prepareModule(bytes, { fuel, sharedFuel: fuel, fast: true, maxTableElements });
    cores[name] = {
      module: new WebAssembly.Module(prepared.bytes),
      memory: prepared.memory && { ...prepared.memory, imported },
      growFailedExport: prepared.exports.growFailed,
      fuel,
    };
    if (prepared.memory && !imported) {
      initialPages += prepared.memory.initialPages;
      if (maximumPages === undefined) maximumPages = prepared.memory.maximumPages;
    }
    tableElements += m.tables.slice(m.numTableImports).reduce((sum, table) => sum + table.min, 0);
  }
  return {
    code: { glue: t.js, cores, tableElements },
    memory: maximumPages === undefined ? null : { initialPages, maximumPages },
  };
}
