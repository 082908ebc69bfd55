/**
 * Who is calling: tenants, roles and the caller every use case is checked against. A key belongs
 * to one tenant and has one role: viewer (read) < submitter (submit, cancel, retry, register) <
 * admin (manage the tenant's keys). Admins of the default tenant are system admins: they create
 * tenants and manage keys of any tenant.
 */

/** The tenant that exists from the first start (the store's migrations create it). */
export const DEFAULT_TENANT_ID = '00000000-0000-0000-0000-000000000000';

export const API_KEY_ROLES = ['admin', 'submitter', 'viewer'] as const;
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

const RANK: Record<ApiKeyRole, number> = { viewer: 0, submitter: 1, admin: 2 };

export type Principal =
  | { kind: 'anonymous'; tenantId: string; role: 'admin'; system: true }
  | { kind: 'apiKey'; keyId: string; keyName: string; tenantId: string; role: ApiKeyRole; system: boolean };

/** A caller without a key while AUTH is off: the admin of the default tenant. */
export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous', tenantId: DEFAULT_TENANT_ID, role: 'admin', system: true });

/** At least `role`? (admin ⊇ submitter ⊇ viewer) */
export const hasRole = (p: Principal, role: ApiKeyRole): boolean => RANK[p.role] >= RANK[role];
