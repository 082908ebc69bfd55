/**
 * Retention: how long a task is kept after it ended, per ended status. The server default of each
 * is its RETAIN_* option (unset = forever); a system admin may override them per tenant.
 */
export const RETAINED_STATUSES = ['SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type RetainedStatus = (typeof RETAINED_STATUSES)[number];

/** A tenant's retention overrides in ms; null = the server default, 0 = kept forever. */
export interface RetentionOverrides {
  succeededMs: number | null;
  failedMs: number | null;
  cancelledMs: number | null;
}
