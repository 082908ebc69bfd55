/**
 * inspectModule: the registration-time check. V8 validates (so every feature V8 accepts is
 * accepted and its message explains what is malformed); then Spindle's own rules apply: a WASI
 * command (command.ts: only imports the host provides, each with the host's type), at most one
 * 32-bit unshared memory.
 */
import { checkCommandWorld, checkCoreNames, isComponent, readComponentWorld } from '../component/world.js';
import type { ModuleInfo } from '../types.js';
import { checkCommand, type HostImports } from './command.js';
import { InvalidModuleError } from './errors.js';
import { RESERVED_EXPORT_PREFIX } from './rewrite.js';
import { checkMemories, readStructure, type ModuleStructure } from './structure.js';

export interface InspectOptions extends HostImports {
  /** sha256 (hex) of the bytes, copied into the result. */
  digest: string;
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

export function inspectModule(bytes: Uint8Array, opts: InspectOptions): ModuleInfo {
  if (isComponent(bytes)) {
    // The runtime inspects components by transpiling them (runtime/index.ts inspect); here, where
    // only core modules are read, what it imports is still named first.
    checkCommandWorld(readComponentWorld(bytes));
    checkCoreNames(bytes);
    throw new InvalidModuleError('this is a WASI 0.2 command component: it is inspected by the runtime, not as a core module');
  }
  const m = structural(bytes);
  if (!wasm.validate(bytes)) {
    const why = v8Message(bytes);
    if (m instanceof InvalidModuleError && !/^malformed module/.test(m.message)) throw m;
    throw new InvalidModuleError(`malformed module: ${why}`, { validator: why });
  }
  if (m instanceof InvalidModuleError) throw m;

  checkCommand(m, opts);
  // Valid in a module, but names are kept and shown as text (agent versions' imports and exports),
  // where U+0000 cannot be stored; no WASI name has one, so only an export can get this far.
  const nul = m.exports.find((e) => e.name.includes('\0'));
  if (nul) throw new InvalidModuleError(`export name ${JSON.stringify(nul.name)} contains NUL (U+0000); export names must be storable text`);
  const reserved = m.exports.find((e) => e.name.startsWith(RESERVED_EXPORT_PREFIX));
  if (reserved) throw new InvalidModuleError(`export name "${reserved.name}" is reserved (prefix "${RESERVED_EXPORT_PREFIX}")`);

  const mem = m.memories[0];
  return {
    digest: opts.digest,
    size: bytes.length,
    imports: m.imports.map(({ module, name, kind }) => ({ module, name, kind })),
    exports: m.exports.map(({ name, kind }) => ({ name, kind })),
    memory: mem ? { initialPages: mem.limits.min, maximumPages: mem.limits.max, imported: mem.importIndex !== null } : null,
    tableElements: m.tables.reduce((sum, t) => sum + t.min, 0),
    format: 'module',
    isCommand: true,
  };
}
