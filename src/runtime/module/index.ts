/**
 * WebAssembly binary inspection and rewriting, by hand (no dependencies). See inspect.ts for
 * what registration accepts, rewrite.ts for what the worker pool runs, fuel.ts for the cost model.
 */
export { InvalidModuleError } from './errors.js';
export { inspectModule, type InspectOptions } from './inspect.js';
export type { HostImports } from './command.js';
export type { Signature } from './signature.js';
export {
  prepareModule,
  type PreparedModule,
  type PrepareOptions,
  MEMORY_IMPORT,
  GROW_FAILED_EXPORT,
  FUEL_EXPORT,
  RESERVED_EXPORT_PREFIX,
} from './rewrite.js';
export { FUEL_UNSET } from './fuel.js';
