/**
 * inspectModule: the registration-time check. V8 validates (so every feature V8 accepts is
 * accepted and its message explains what is malformed); then Spindle's own rules apply: a WASI
 * command, only imports the host provides, at most one 32-bit unshared memory.
 */
import type { ImportKind, ModuleInfo } from '../types.js';
import { InvalidModuleError } from './errors.js';
import { RESERVED_EXPORT_PREFIX } from './rewrite.js';
import { checkMemories, readStructure, TYPE_VOID, type ModuleStructure } from './structure.js';

export interface InspectOptions {
  /** sha256 (hex) of the bytes, copied into the result. */
  digest: string;
  /** Whether the host satisfies an import. Memory imports are not asked: they become `spindle`.`memory`. */
  provides: (module: string, name: string, kind: ImportKind) => boolean;
}

// The project's TypeScript lib has no WebAssembly declarations; this is the little we use.
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

function v8Message(bytes: Uint8Array): string {
  try {
    new wasm.Module(bytes);
    return 'rejected by the WebAssembly validator';
  } catch (err) {
    return (err as Error).message.replace(/^WebAssembly\.Module\(\): /, '');
  }
}

/** Our structural reading, when it finds a clearer reason than V8 (memory64, multi-memory, …). */
function structural(bytes: Uint8Array): ModuleStructure | InvalidModuleError {
  try {
    const m = readStructure(bytes);
    checkMemories(m);
    return m;
  } catch (err) {
    if (err instanceof InvalidModuleError) return err;
    throw err;
  }
}

const quote = (i: { module: string; name: string; kind: ImportKind }) => `"${i.module}"."${i.name}" (${i.kind})`;

export function inspectModule(bytes: Uint8Array, opts: InspectOptions): ModuleInfo {
  const m = structural(bytes);
  if (!wasm.validate(bytes)) {
    const why = v8Message(bytes);
    if (m instanceof InvalidModuleError && !/^malformed module/.test(m.message)) throw m;
    throw new InvalidModuleError(`malformed module: ${why}`, { validator: why });
  }
  if (m instanceof InvalidModuleError) throw m;

  const missing = m.imports.filter((i) => i.kind !== 'memory' && !opts.provides(i.module, i.name, i.kind));
  if (missing.length > 0) {
    throw new InvalidModuleError(
      `module imports ${missing.length === 1 ? 'something' : `${missing.length} things`} the host does not provide: ${missing.map(quote).join(', ')}`,
      { missingImports: missing.map(({ module, name, kind }) => ({ module, name, kind })) },
    );
  }
  const start = m.exports.find((e) => e.name === '_start');
  if (!start || start.kind !== 'function') {
    throw new InvalidModuleError('not a WASI command: the module does not export a function "_start" (reactor modules are not supported)');
  }
  if (m.types[m.funcTypes[start.index]!] !== TYPE_VOID) {
    throw new InvalidModuleError('"_start" must take no parameters and return no results');
  }
  const reserved = m.exports.find((e) => e.name.startsWith(RESERVED_EXPORT_PREFIX));
  if (reserved) throw new InvalidModuleError(`export name "${reserved.name}" is reserved (prefix "${RESERVED_EXPORT_PREFIX}")`);

  const mem = m.memories[0];
  return {
    digest: opts.digest,
    size: bytes.length,
    imports: m.imports.map(({ module, name, kind }) => ({ module, name, kind })),
    exports: m.exports.map(({ name, kind }) => ({ name, kind })),
    memory: mem ? { initialPages: mem.limits.min, maximumPages: mem.limits.max, imported: mem.importIndex !== null } : null,
    isCommand: true,
  };
}
