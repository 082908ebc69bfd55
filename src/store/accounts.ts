/** Tenants and API keys: minimal CRUD for authentication (keys are stored as sha256 hashes only). */
import { SpindleError } from '../domain/index.js';
import type { Prisma } from './db.js';
import { isUuid } from './ids.js';
import { toApiKeyRow, toTenantRow } from './map.js';
import type { ApiKeyRepository, TenantRepository } from './types.js';

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === 'P2002';

export function makeTenantRepository(prisma: Prisma): TenantRepository {
  return {
    async create(name) {
      try {
        return toTenantRow(await prisma.tenant.create({ data: { name } }));
      } catch (err) {
        if (isUniqueViolation(err)) throw new SpindleError('CONFLICT', `tenant ${name} already exists`, { name });
        throw err;
      }
    },
    async get(id) {
      if (!isUuid(id)) return null;
      const t = await prisma.tenant.findUnique({ where: { id } });
      return t && toTenantRow(t);
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
