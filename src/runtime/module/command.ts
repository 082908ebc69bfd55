/**
 * checkCommand: can this host run the module as a WASI command? Every import satisfied, with the
 * type the host gives it, and a `_start: () -> ()` export. Registration (inspectModule) and the
 * run path (prepareModule with `host`) apply the same rules, so a module that reaches the
 * runtime without registration is refused the same way.
 */
import type { ImportKind } from '../types.js';
import { InvalidModuleError } from './errors.js';
import { formatSignature, signatureOf, type Signature } from './signature.js';
import { TYPE_VOID, type ModuleStructure } from './structure.js';

/** What the host satisfies. */
export interface HostImports {
  /** Whether the host satisfies an import. Memory imports are not asked: they become `spindle`.`memory`. */
  provides: (module: string, name: string, kind: ImportKind) => boolean;
  /**
   * The type of a function import the host provides; undefined accepts any type. A host
   * function in JS links under whatever type the module declares (V8 converts each argument
   * and result at the call), so a wrong one would only surface mid-run, as a TypeError in the
   * host ("Cannot convert 0 to a BigInt"): it is refused here instead.
   */
  signature: (module: string, name: string) => Signature | undefined;
}

const quote = (i: { module: string; name: string; kind: ImportKind }) => `"${i.module}"."${i.name}" (${i.kind})`;

function missingImports(m: ModuleStructure, host: HostImports): void {
  const missing = m.imports.filter((i) => i.kind !== 'memory' && !host.provides(i.module, i.name, i.kind));
  if (missing.length === 0) return;
  throw new InvalidModuleError(
    `module imports ${missing.length === 1 ? 'something' : `${missing.length} things`} the host does not provide: ${missing.map(quote).join(', ')}`,
    { missingImports: missing.map(({ module, name, kind }) => ({ module, name, kind })) },
  );
}

function mistypedImports(m: ModuleStructure, host: HostImports): void {
  const wrong: { module: string; name: string; declared: string; expected: string }[] = [];
  let func = 0; // function imports come first in funcTypes, in import order
  for (const i of m.imports) {
    if (i.kind !== 'function') continue;
    const type = m.types[m.funcTypes[func++]!];
    const expected = host.signature(i.module, i.name);
    // An out-of-range type index is malformed; V8's validation names it.
    if (expected === undefined || type === undefined) continue;
    const declared = formatSignature(signatureOf(type));
    if (declared !== formatSignature(expected)) wrong.push({ module: i.module, name: i.name, declared, expected: formatSignature(expected) });
  }
  if (wrong.length === 0) return;
  const each = wrong.map((w) => `import ${w.module}.${w.name} has type ${w.declared}, ${w.module} defines ${w.expected}`);
  throw new InvalidModuleError(
    wrong.length === 1 ? each[0]! : `module imports ${wrong.length} functions with the wrong type: ${each.join('; ')}`,
    { mistypedImports: wrong },
  );
}

/** Throws InvalidModuleError naming what keeps `host` from running the module as a WASI command. */
export function checkCommand(m: ModuleStructure, host: HostImports): void {
  missingImports(m, host);
  mistypedImports(m, host);
  const start = m.exports.find((e) => e.name === '_start');
  if (!start || start.kind !== 'function') {
    throw new InvalidModuleError('not a WASI command: the module does not export a function "_start" (reactor modules are not supported)');
  }
  // Checked on the run path too: called from JS, a `_start` taking an i64 or a v128 throws a TypeError.
  if (m.types[m.funcTypes[start.index]!] !== TYPE_VOID) {
    throw new InvalidModuleError('"_start" must take no parameters and return no results');
  }
}
