import type { OutcomeKind } from './outcome.js';

export const TASK_STATUSES = ['QUEUED', 'RUNNING', 'RETRYING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

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

export interface RetryPolicy {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  retryOn: RetryOn[];
}

export type { OutcomeKind };
