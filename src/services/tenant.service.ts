/**
 * Tenants and their quotas: `me` (any caller), the list, creation and quota overrides (system
 * admins), and the quotas in force for a tenant (its admins, system admins). Another tenant's ids
 * answer NOT_FOUND to anyone but a system admin, so ids cannot be probed.
 */
import type { Logger } from 'pino';
import { optionRange, type Config } from '../config/index.js';
import {
  badInput,
  SpindleError,
  TENANT_QUOTAS,
  type ApiKeyRole,
  type Principal,
  type QuotaValues,
  type RetentionOverrides,
  type TenantQuota,
} from '../domain/index.js';
import type { Store, TenantRow } from '../store/index.js';
import { requireRole, requireSystem } from './auth.service.js';
import { checkId, notFoundAt } from './ids.js';
import { checkQuotaOverrides, effectiveQuotas, type QuotaOverridesParams, type Quotas } from './quota.service.js';

/** Tenant and API key names: 1-100 characters, starting with a letter or digit. */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,99}$/;
export const NAME_RULE = 'must be 1-100 characters of letters, digits, space, ".", "_", "@" or "-", starting with a letter or digit';

/** The caller as `me` shows it. */
export interface CallerInfo {
  tenant: TenantRow;
  role: ApiKeyRole;
  /** The API key in use; null without one (AUTH=off). */
  keyId: string | null;
  systemAdmin: boolean;
  authEnabled: boolean;
}

/** Retention overrides as a caller sends them (ms): a value sets one (0 = keep forever), null clears it, an absent one stays. */
export type RetentionOverridesParams = { [K in keyof RetentionOverrides]?: number | null };

/** The retention in force for a tenant per ended status (ms; null = kept forever), and which of them are its own. */
export type TenantRetentionView = RetentionOverrides & { overridden: (keyof RetentionOverrides)[] };

/** The option behind each retention override (its range and the name messages show). */
const RETENTION_OPTIONS: Readonly<Record<keyof RetentionOverrides, string>> = Object.freeze({
  succeededMs: 'RETAIN_SUCCEEDED',
  failedMs: 'RETAIN_FAILED',
  cancelledMs: 'RETAIN_CANCELLED',
});

const RETENTION_KEYS = Object.keys(RETENTION_OPTIONS) as (keyof RetentionOverrides)[];

/** The overrides the input sets or clears, each 0 or within its RETAIN_* option's range. */
function checkRetentionOverrides(input: RetentionOverridesParams): Partial<RetentionOverrides> {
  const out: Partial<RetentionOverrides> = {};
  for (const key of RETENTION_KEYS) {
    const value = input[key];
    if (value === undefined) continue;
    const option = RETENTION_OPTIONS[key];
    const { min, max } = optionRange(option);
    if (value !== null && value !== 0 && (!Number.isInteger(value) || value < min || value > max)) {
      throw badInput(`input.${key}`, `must be 0 (keep forever), an integer number of ms between ${min} and ${max} (the range of ${option}), or null for the server default`, { min, max, option });
    }
    out[key] = value;
  }
  return out;
}

/** The quotas in force for a tenant, and which of them are its own. */
export type TenantQuotaView = QuotaValues & { overridden: TenantQuota[] };

export interface TenantService {
  me(caller: Principal): Promise<CallerInfo>;
  list(caller: Principal): Promise<TenantRow[]>;
  /** Creates a tenant, optionally with quota overrides (system admins). */
  create(caller: Principal, name: string, quotas?: QuotaOverridesParams | null): Promise<TenantRow>;
  /** Sets or clears quota overrides of a tenant (system admins); applies at once on this node. */
  setQuotas(caller: Principal, tenantId: string, input: QuotaOverridesParams): Promise<TenantRow>;
  /** The quotas in force for a tenant the caller was shown (its admins, system admins). */
  quotasOf(caller: Principal, tenant: TenantRow): TenantQuotaView;
  /** Sets or clears retention overrides of a tenant (system admins); the next sweep applies them. */
  setRetention(caller: Principal, tenantId: string, input: RetentionOverridesParams): Promise<TenantRow>;
  /** The retention in force for a tenant the caller was shown (its admins, system admins). */
  retentionOf(caller: Principal, tenant: TenantRow): TenantRetentionView;
}

export interface TenantDeps {
  config: Config;
  store: Store;
  quotas: Quotas;
  logger: Logger;
}

/** Who did it, for the log. */
export const actor = (caller: Principal) => (caller.kind === 'apiKey' ? caller.keyId : 'anonymous');

export function makeTenantService({ config, store, quotas, logger }: TenantDeps): TenantService {
  return {
    async me(caller) {
      const tenant = await store.tenants.get(caller.tenantId);
      if (!tenant) throw new Error(`tenant ${caller.tenantId} of the caller is missing`);
      return { tenant, role: caller.role, keyId: caller.kind === 'apiKey' ? caller.keyId : null, systemAdmin: caller.system, authEnabled: config.auth.enabled };
    },

    async list(caller) {
      requireSystem(caller, 'tenants');
      return store.tenants.list();
    },

    async create(caller, name, overrides) {
      requireSystem(caller, 'createTenant');
      if (!NAME.test(name)) throw badInput('name', NAME_RULE);
      return store.tenants.create(name, overrides ? checkQuotaOverrides('quotas', overrides) : {});
    },

    async setQuotas(caller, tenantId, input) {
      requireSystem(caller, 'setTenantQuotas');
      const id = checkId('tenantId', tenantId);
      const overrides = checkQuotaOverrides('input', input);
      const row = await store.tenants.setQuotas(id, overrides);
      if (!row) throw notFoundAt('tenantId', 'tenant', tenantId);
      quotas.forget(id);
      logger.info({ tenantId: id, quotas: overrides, by: actor(caller) }, 'tenant quotas set');
      return row;
    },

    quotasOf(caller, tenant) {
      requireRole(caller, 'admin', 'Tenant.quotas');
      // Tenants reach the API through `me` (the caller's own) and system-admin fields only; this is the backstop.
      if (tenant.id !== caller.tenantId && !caller.system) throw new SpindleError('FORBIDDEN', 'Tenant.quotas of another tenant needs a system admin key');
      return { ...effectiveQuotas(tenant.quotas, config.quotas), overridden: TENANT_QUOTAS.filter((q) => tenant.quotas[q] !== null) };
    },

    async setRetention(caller, tenantId, input) {
      requireSystem(caller, 'setTenantRetention');
      const id = checkId('tenantId', tenantId);
      const overrides = checkRetentionOverrides(input);
      const row = await store.tenants.setRetention(id, overrides);
      if (!row) throw notFoundAt('tenantId', 'tenant', tenantId);
      logger.info({ tenantId: id, retention: overrides, by: actor(caller) }, 'tenant retention set');
      return row;
    },

    retentionOf(caller, tenant) {
      requireRole(caller, 'admin', 'Tenant.retention');
      if (tenant.id !== caller.tenantId && !caller.system) throw new SpindleError('FORBIDDEN', 'Tenant.retention of another tenant needs a system admin key');
      const r = config.retention;
      const inForce = (key: keyof RetentionOverrides, serverMs: number | undefined) => (tenant.retention[key] ?? serverMs ?? 0) || null;
      return {
        succeededMs: inForce('succeededMs', r.succeeded),
        failedMs: inForce('failedMs', r.failed),
        cancelledMs: inForce('cancelledMs', r.cancelled),
        overridden: RETENTION_KEYS.filter((k) => tenant.retention[k] !== null),
      };
    },
  };
}
