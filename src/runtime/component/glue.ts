/**
 * Evaluating jco's instantiation-mode glue (on a task worker, for each run: run.ts).
 *
 * jco transpiles a component into core modules plus an ES module whose `instantiate(getCoreModule,
 * imports, instantiateCore)` wires them to the host's imports. That module is generated from the
 * component: it must run with nothing of the host's but what it is handed. So it is evaluated as
 * a plain script in a fresh `vm` context (its own globals: no `process`, `require`, `import()`,
 * `fetch`; only TextEncoder/TextDecoder and a silent console), with code generation from strings
 * and Wasm off in that context, and the core names it quotes were checked first (world.ts
 * checkCoreNames): see runtime/component/README.md.
 */
import vm from 'node:vm';

export interface Glue {
  instantiate(
    getCoreModule: (path: string) => WebAssembly.Module,
    imports: Record<string, Record<string, unknown>>,
    instantiateCore: (module: WebAssembly.Module, imports?: WebAssembly.Imports) => WebAssembly.Instance,
  ): Record<string, unknown>;
}

const INSTANTIATE = '\nexport function instantiate(';
const UTIL = '\nexport const _util = ';

/** The glue's two exports made script bindings, exactly once each; anything else is refused. */
function asScript(source: string): string {
  const at = source.indexOf(INSTANTIATE);
  const util = source.indexOf(UTIL);
  if (at < 0 || source.indexOf(INSTANTIATE, at + 1) >= 0) throw new Error('transpiled glue: expected one `export function instantiate(`');
  if (util >= 0 && source.indexOf(UTIL, util + 1) >= 0) throw new Error('transpiled glue: expected at most one `export const _util`');
  let script = source.replace(INSTANTIATE, '\nfunction instantiate(');
  if (util >= 0) script = script.replace(UTIL, '\nconst _util = ');
  if (/^\s*(?:import|export)\b/m.test(script)) throw new Error('transpiled glue: an import or export other than instantiate/_util');
  return `${script}\n;({ instantiate });`;
}

const silent = new Proxy({}, { get: () => () => {} });

/** Compiled glue: V8 parses it once, and it is run in a fresh context for every run. */
const scripts = new Map<string, vm.Script>();
const SCRIPTS_KEPT = 16;

function compiled(source: string): vm.Script {
  let script = scripts.get(source);
  if (script === undefined) {
    script = new vm.Script(asScript(source), { filename: 'component-glue.js' });
    if (scripts.size >= SCRIPTS_KEPT) scripts.delete(scripts.keys().next().value!);
    scripts.set(source, script);
  }
  return script;
}

/**
 * Evaluates `source` (jco's glue, instantiation mode 'sync') in a context of its own. Each call
 * gets a new context, so nothing one run's glue keeps (resource tables, its globals) reaches the next.
 */
export function evaluateGlue(source: string): Glue {
  const context = vm.createContext(
    { TextEncoder, TextDecoder, console: silent },
    { codeGeneration: { strings: false, wasm: false } },
  );
  const glue = compiled(source).runInContext(context, { timeout: 5_000 }) as Glue;
  if (typeof glue?.instantiate !== 'function') throw new Error('transpiled glue: no instantiate function');
  return glue;
}
