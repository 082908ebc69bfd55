/**
 * API keys: list, create (the secret is returned once) and revoke, by a tenant's admins in their
 * tenant and by system admins in any; and the system admin key ensured at start-up.
 */
import type { Logger } from 'pino';
import { badInput, DEFAULT_TENANT_ID, type ApiKeyRole, type Principal } from '../domain/index.js';
import type { ApiKeyRow, Store } from '../store/index.js';
import { generateApiKey, hashApiKey, keyPrefix, requireRole, type Authenticator } from './auth.service.js';
import { checkId, notFoundAt } from './ids.js';
import { actor, NAME, NAME_RULE } from './tenant.service.js';

/** A key as an admin asks for it; `tenantId`: another tenant (system admins only), default the caller's. */
export interface CreateApiKeyParams {
  name: string;
  role: ApiKeyRole;
  tenantId?: string | null;
}

export interface KeyService {
  /** The tenant's keys, newest first, revoked ones included; never their secrets. */
  list(caller: Principal, tenantId?: string | null): Promise<ApiKeyRow[]>;
  /** Creates a key and returns its secret, the only time it is shown. */
  create(caller: Principal, input: CreateApiKeyParams): Promise<{ key: ApiKeyRow; secret: string }>;
  /** Revokes a key at once on this node, within the authenticator's cache time on the others. */
  revoke(caller: Principal, id: string, tenantId?: string | null): Promise<ApiKeyRow>;
}

export interface KeyDeps {
  store: Store;
  /** Told about a revoke, so this node refuses the key at once. */
  auth: Authenticator;
  logger: Logger;
}

export function makeKeyService({ store, auth, logger }: KeyDeps): KeyService {
  /** The tenant an admin acts on: its own, or (system admins) any existing one. */
  const targetTenant = async (caller: Principal, field: string, tenantId: string | null | undefined): Promise<string> => {
    if (tenantId == null) return caller.tenantId;
    const id = checkId(field, tenantId);
    if (id === caller.tenantId) return id;
    if (!caller.system || !(await store.tenants.get(id))) throw notFoundAt(field, 'tenant', tenantId);
    return id;
  };

  return {
    async list(caller, tenantId) {
      requireRole(caller, 'admin', 'apiKeys');
      return store.apiKeys.list(await targetTenant(caller, 'tenantId', tenantId));
    },

    async create(caller, input) {
      requireRole(caller, 'admin', 'createApiKey');
      if (!NAME.test(input.name)) throw badInput('input.name', NAME_RULE);
      const tenantId = await targetTenant(caller, 'input.tenantId', input.tenantId);
      const { secret, prefix, secretHash } = generateApiKey();
      const key = await store.apiKeys.create({ tenantId, name: input.name, prefix, secretHash, role: input.role });
      logger.info({ keyId: key.id, tenantId, role: key.role, by: actor(caller) }, 'API key created');
      return { key, secret };
    },

    async revoke(caller, id, tenantId) {
      requireRole(caller, 'admin', 'revokeApiKey');
      const tenant = await targetTenant(caller, 'tenantId', tenantId);
      const row = await store.apiKeys.revoke(tenant, checkId('id', id));
      if (!row) throw notFoundAt('id', 'API key', id);
      auth.forget(row.id);
      logger.info({ keyId: row.id, tenantId: tenant }, 'API key revoked');
      return row;
    },
  };
}

/**
 * Start-up: SPINDLE_ADMIN_KEY is ensured as a system admin key; without it, the first start with
 * auth on (no key in the default tenant yet) creates one and returns its secret to print once.
 */
export async function bootstrapAdminKey(store: Store, options: { enabled: boolean; adminKey: string | undefined }): Promise<{ generated: string | null; revokedAdminKey: boolean }> {
  if (options.adminKey) {
    const hash = hashApiKey(options.adminKey);
    const existing = await store.apiKeys.findByHash(hash);
    if (!existing) {
      await store.apiKeys.create({ tenantId: DEFAULT_TENANT_ID, name: 'SPINDLE_ADMIN_KEY', prefix: keyPrefix(options.adminKey), secretHash: hash, role: 'admin' });
    }
    return { generated: null, revokedAdminKey: !!existing?.revokedAt };
  }
  if (!options.enabled) return { generated: null, revokedAdminKey: false };
  if ((await store.apiKeys.list(DEFAULT_TENANT_ID)).length > 0) return { generated: null, revokedAdminKey: false };
  const key = generateApiKey();
  await store.apiKeys.create({ tenantId: DEFAULT_TENANT_ID, name: 'first admin key', prefix: key.prefix, secretHash: key.secretHash, role: 'admin' });
  return { generated: key.secret, revokedAdminKey: false };
}
