/** Agents and their versions. Registering is one transaction; deleting is soft. */
import type { Agent } from '../generated/prisma/client.js';
import type { Prisma } from './db.js';
import { isUuid } from './ids.js';
import { limitsToJson, toAgentRow, toAgentVersionRow } from './map.js';
import type { AgentRepository } from './types.js';

export function makeAgentRepository(prisma: Prisma): AgentRepository {
  return {
    async registerVersion(v) {
      // One transaction with no other awaits inside (PGlite has a single connection).
      return prisma.$transaction(async (tx) => {
        await tx.module.createMany({ data: [{ digest: v.moduleDigest, size: v.moduleSize }], skipDuplicates: true });
        await tx.tenantModule.createMany({ data: [{ tenantId: v.tenantId, digest: v.moduleDigest }], skipDuplicates: true });
        // Create on first registration, else bump latest_version; atomic under concurrent registrations.
        const [agent] = await tx.$queryRawUnsafe<Agent[]>(
          `INSERT INTO agent AS a (tenant_id, name, description, latest_version)
           VALUES ($1::uuid, $2, $3, 1)
           ON CONFLICT (tenant_id, name) WHERE deleted_at IS NULL
           DO UPDATE SET latest_version = a.latest_version + 1,
                         description = COALESCE(EXCLUDED.description, a.description), updated_at = now()
           RETURNING a.id, a.tenant_id AS "tenantId", a.name, a.description, a.latest_version AS "latestVersion",
                     a.created_at AS "createdAt", a.updated_at AS "updatedAt", a.deleted_at AS "deletedAt"`,
          v.tenantId,
          v.name,
          v.description ?? null,
        );
        const version = await tx.agentVersion.create({
          data: {
            agentId: agent!.id,
            tenantId: v.tenantId,
            version: agent!.latestVersion,
            moduleDigest: v.moduleDigest,
            moduleSize: v.moduleSize,
            imports: v.imports,
            exports: v.exports,
            memoryInitialPages: v.memoryInitialPages,
            memoryMaximumPages: v.memoryMaximumPages,
            defaultLimits: limitsToJson(v.defaultLimits) as object,
          },
        });
        return { agent: toAgentRow(agent!), version: toAgentVersionRow(version) };
      });
    },

    async get(tenantId, id) {
      if (!isUuid(id)) return null;
      const a = await prisma.agent.findFirst({ where: { id, tenantId } });
      return a && toAgentRow(a);
    },

    async getByName(tenantId, name) {
      const a = await prisma.agent.findFirst({ where: { tenantId, name, deletedAt: null } });
      return a && toAgentRow(a);
    },

    async list(tenantId) {
      const rows = await prisma.agent.findMany({ where: { tenantId, deletedAt: null }, orderBy: { name: 'asc' } });
      return rows.map(toAgentRow);
    },

    async versions(agentId) {
      if (!isUuid(agentId)) return [];
      const rows = await prisma.agentVersion.findMany({ where: { agentId }, orderBy: { version: 'asc' } });
      return rows.map(toAgentVersionRow);
    },

    async version(agentId, version) {
      if (!isUuid(agentId)) return null;
      const v = await prisma.agentVersion.findFirst({
        where: { agentId, ...(version === undefined ? {} : { version }) },
        orderBy: { version: 'desc' },
      });
      return v && toAgentVersionRow(v);
    },

    async getVersion(id) {
      if (!isUuid(id)) return null;
      const v = await prisma.agentVersion.findUnique({ where: { id } });
      return v && toAgentVersionRow(v);
    },

    async delete(tenantId, id) {
      if (!isUuid(id)) return false;
      const { count } = await prisma.agent.updateMany({
        where: { id, tenantId, deletedAt: null },
        data: { deletedAt: new Date() },
      });
      return count > 0;
    },
  };
}
