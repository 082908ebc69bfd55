/**
 * How a single run of a guest ended. The runtime classifies every end into exactly one kind;
 * the executor decides from the kind whether to retry. The vocabulary is closed: adding a kind
 * is a schema change (GraphQL enum, retry table, dashboard).
 */
export const OUTCOME_KINDS = [
  'exited',
  'trap',
  'timeout',
  'fuel_exhausted',
  'memory_limit',
  'output_limit',
  'invalid_module',
  'cancelled',
  'host_error',
] as const;
export type OutcomeKind = (typeof OUTCOME_KINDS)[number];

/** Trap codes reported with kind 'trap' (WebAssembly runtime errors, named as wazero names them). */
export const TRAP_CODES = [
  'unreachable',
  'memory_out_of_bounds',
  'divide_by_zero',
  'integer_overflow',
  'invalid_conversion',
  'stack_overflow',
  'indirect_call_mismatch',
  'indirect_call_null',
  'table_out_of_bounds',
  'data_segment_out_of_bounds',
  'element_segment_out_of_bounds',
  'unaligned_atomic',
  'null_reference',
  'unknown',
] as const;
export type TrapCode = (typeof TRAP_CODES)[number];

export interface TrapInfo {
  code: TrapCode;
  message: string;
}

/**
 * A file as it comes in (task input) or goes out (written by the guest). Inputs may also be an
 * empty directory (`kind: 'dir'`, no bytes) or a symlink (`kind: 'symlink'`, bytes = its target
 * in UTF-8); outputs are always regular files.
 */
export interface FileEntry {
  path: string;
  bytes: Uint8Array;
  kind?: 'file' | 'dir' | 'symlink';
}

/** A directory the guest gets as a preopened descriptor (fd 3, 4, … in order); `path` is absolute. */
export interface Mount {
  path: string;
  readOnly: boolean;
}

/** What a task gets when it declares no mounts: "/" alone, writable. */
export const DEFAULT_MOUNTS: readonly Mount[] = Object.freeze([Object.freeze({ path: '/', readOnly: false })]);
