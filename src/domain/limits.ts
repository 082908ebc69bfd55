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

export const WASM_PAGE_BYTES = 65536;
