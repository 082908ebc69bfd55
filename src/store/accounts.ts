/** Tenants and API keys: minimal CRUD for authentication (keys are stored as sha256 hashes only). */
import { SpindleError } from '../domain/index.js';
import type { Prisma } from './db.js';
import { isUuid } from './ids.js';
import type { RunningCapsCache } from './caps.js';
import { quotaColumns, retentionColumns, toApiKeyRow, toTenantRow } from './map.js';
import type { ApiKeyRepository, TenantRepository } from './types.js';

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === 'P2002';

/** `caps`: the running-caps cache of this store, reloaded when an override of running tasks changes. */
export function makeTenantRepository(prisma: Prisma, caps: RunningCapsCache): TenantRepository {
  const get = async (id: string) => {
    const t = await prisma.tenant.findUnique({ where: { id } });
    return t && toTenantRow(t);
  };
  return {
    async create(name, quotas = {}) {
      let row;
      try {
        row = toTenantRow(await prisma.tenant.create({ data: { name, ...quotaColumns(quotas) } }));
      } catch (err) {
        if (isUniqueViolation(err)) throw new SpindleError('CONFLICT', `tenant ${name} already exists`, { name });
        throw err;
      }
      if (quotas.runningTasks != null) await caps.reload();
      return row;
    },
    async setQuotas(id, quotas) {
      if (!isUuid(id)) return null;
      const data = quotaColumns(quotas);
      // Nothing to change: Prisma would skip the update and count 0 rows, as for a missing tenant.
      if (Object.values(data).every((v) => v === undefined)) return get(id);
      const { count } = await prisma.tenant.updateMany({ where: { id }, data });
      if (count === 0) return null;
      if (quotas.runningTasks !== undefined) await caps.reload();
      return get(id);
    },
    async get(id) {
      return isUuid(id) ? get(id) : null;
    },
    async setRetention(id, retention) {
      if (!isUuid(id)) return null;
      const data = retentionColumns(retention);
      if (Object.values(data).every((v) => v === undefined)) return get(id);
      const { count } = await prisma.tenant.updateMany({ where: { id }, data });
      return count === 0 ? null : get(id);
    },
    async getByName(name) {
      const t = await prisma.tenant.findUnique({ where: { name } });
      return t && toTenantRow(t);
    },
    async list() {
      return (await prisma.tenant.findMany({ orderBy: { createdAt: 'asc' } })).map(toTenantRow);
    },
  };
}

export function makeApiKeyRepository(prisma: Prisma): ApiKeyRepository {
  return {
    async create(k) {
      return toApiKeyRow(await prisma.apiKey.create({ data: k }));
    },
    async findByHash(secretHash) {
      const k = await prisma.apiKey.findUnique({ where: { secretHash } });
      return k && toApiKeyRow(k);
    },
    async list(tenantId) {
      const rows = await prisma.apiKey.findMany({ where: { tenantId }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
      return rows.map(toApiKeyRow);
    },
    async revoke(tenantId, id) {
      if (!isUuid(id)) return null;
      await prisma.apiKey.updateMany({ where: { id, tenantId, revokedAt: null }, data: { revokedAt: new Date() } });
      const k = await prisma.apiKey.findFirst({ where: { id, tenantId } });
      return k && toApiKeyRow(k);
    },
    async touch(id) {
      await prisma.apiKey.updateMany({ where: { id }, data: { lastUsedAt: new Date() } });
    },
  };
}
