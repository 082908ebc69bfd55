/**
 * Per-tenant quotas. The server default of each comes from its QUOTA_* option; a tenant may
 * override any of them (a system admin sets the override, null = the server default).
 */
export const TENANT_QUOTAS = ['queuedTasks', 'activeTasks', 'runningTasks', 'storedBytes', 'submitRate', 'submitBurst', 'taskBytes'] as const;
export type TenantQuota = (typeof TENANT_QUOTAS)[number];

/** Values in force. runningTasks 0 means no cap. */
export type QuotaValues = Record<TenantQuota, number>;

/** A tenant's overrides; null = the server default. */
export type QuotaOverrides = Record<TenantQuota, number | null>;

export const NO_OVERRIDES: Readonly<QuotaOverrides> = Object.freeze(
  Object.fromEntries(TENANT_QUOTAS.map((q) => [q, null])) as QuotaOverrides,
);
