/**
 * A task's settings, one type each end to end: `Limits` (what one run may use) and `RetryPolicy`
 * (what happens after a failed run). The GraphQL inputs and outputs, the services, the store rows,
 * the executor and the runtime all use these; the field names are the GraphQL field names.
 * Defaults and maxima are configuration (src/config), never restated here.
 */

/** Per-run resource limits. All are enforced by the runtime; the service fills defaults and checks maxima. */
export interface Limits {
  /** Wall-clock budget for one attempt, including module start and host calls. */
  timeoutMs: number;
  /** Cap on the guest's linear memory, in bytes (rounded down to 64 KiB pages). */
  memoryBytes: number;
  /** Optional instruction budget (deterministic); undefined means unmetered. */
  fuel?: bigint;
  /** stdout and stderr are each kept up to this many bytes and flagged as truncated beyond. */
  maxOutputBytes: number;
}

/**
 * Outcome kinds a user may list in `retryOn`. `nonzero_exit` is an exit with a code other than 0
 * (kind 'exited' with exitCode != 0). `invalid_module` and `cancelled` never retry.
 */
export const RETRYABLE_KINDS = [
  'timeout',
  'host_error',
  'trap',
  'nonzero_exit',
  'fuel_exhausted',
  'memory_limit',
  'output_limit',
] as const;
export type RetryOn = (typeof RETRYABLE_KINDS)[number];

/** What follows a failed attempt: another one after a jittered exponential backoff, or failure. */
export interface RetryPolicy {
  /** Attempts in total, the first run included. */
  maxAttempts: number;
  /** Ceiling of the backoff after the first attempt; doubled per attempt up to maxBackoffMs. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** The outcome kinds that retry; any other fails the task. */
  retryOn: RetryOn[];
}

/** A setting as a caller gives it: every field may be left out (absent or null). */
export type Requested<T> = { [K in keyof T]?: T[K] | null };

export const WASM_PAGE_BYTES = 65536;

/** The largest signed 64-bit integer: PostgreSQL's bigint, the column type of every BigInt. */
export const INT64_MAX = 2n ** 63n - 1n;

/** MAX_TABLE_ELEMENTS' default: the elements a module's tables may hold together, declared or grown. */
export const TABLE_ELEMENTS_DEFAULT = 1_000_000;

/** The most fuel a run may have: PostgreSQL's bigint stores it and the runtime counts it in an i64. */
export const FUEL_MAX = INT64_MAX;
