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
const JCO_DEBUG_CHECK = 'if (!globalThis?.process?.env?.JCO_DEBUG) { return; }';
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
  // jco 1.x checks `globalThis?.process?.env?.JCO_DEBUG` at every host call; in a vm context a
  // global property lookup goes through the context's interceptor, and that check was half the
  // cost of a write to stdout (190 µs a call, 40 µs without). The context has no process: the
  // check is always false, so it goes. (Unchanged glue, should jco word it otherwise, only runs slower.)
  script = script.split(JCO_DEBUG_CHECK).join('return;');
  return `${script}\n;({ instantiate });`;
}

const silent = new Proxy({}, { get: () => () => {} });

/**
 * Evaluated glue, by source: a task worker evaluates a component's glue once and calls its
 * `instantiate` for every run. jco's instantiation-mode glue keeps all its state (resource
 * tables, instances, memory views) inside `instantiate`, so each call starts afresh. What calls
 * share is the context's global object (a vm context's global cannot be frozen): a glue that
 * added a global during a run is dropped and evaluated anew in a fresh context before the next.
 * Measured on the sha256sum component: 30-50 ms a run with a new context each time (jco's 10,000
 * lines of glue evaluated cold), 5-11 ms reused.
 */
interface Evaluated {
  glue: Glue;
  /** The number of the context's own global properties, and how to count them again. */
  globals: number;
  countGlobals: () => number;
}
const evaluated = new Map<string, Evaluated>();
const GLUES_KEPT = 16;

/** Evaluates `source` (jco's glue, instantiation mode 'sync') in a context of its own, once. */
export function evaluateGlue(source: string): Glue {
  const kept = evaluated.get(source);
  if (kept !== undefined && kept.countGlobals() === kept.globals) return kept.glue;
  evaluated.delete(source);
  const context = vm.createContext(
    { TextEncoder, TextDecoder, console: silent },
    { codeGeneration: { strings: false, wasm: false } },
  );
  const glue = new vm.Script(asScript(source), { filename: 'component-glue.js' }).runInContext(context, { timeout: 5_000 }) as Glue;
  if (typeof glue?.instantiate !== 'function') throw new Error('transpiled glue: no instantiate function');
  const countGlobals = vm.runInContext('() => Object.getOwnPropertyNames(globalThis).length', context) as () => number;
  if (evaluated.size >= GLUES_KEPT) evaluated.delete(evaluated.keys().next().value!);
  evaluated.set(source, { glue, globals: countGlobals(), countGlobals });
  return glue;
}
