/**
 * Agents and their versions. Registering is one transaction that adds a version, or returns the
 * latest one when it is the same registration again (see registerVersion); deleting is soft. Reads for the API go
 * through the Prisma client (the API lane); `name`, which the executor needs to start a run, through
 * the executor's lane (db.ts), so a node's first run of an agent never waits behind API load.
 */
import type { Agent } from '../generated/prisma/client.js';
import type { Prisma, Sql } from './db.js';
import { isUuid } from './ids.js';
import { limitsToJson, toAgentRow, toAgentVersionRow } from './map.js';
import type { AgentRepository } from './types.js';

const AGENT_COLUMNS = `a.id, a.tenant_id AS "tenantId", a.name, a.description, a.latest_version AS "latestVersion",
  a.created_at AS "createdAt", a.updated_at AS "updatedAt", a.deleted_at AS "deletedAt"`;

export function makeAgentRepository(prisma: Prisma, sql: Sql): AgentRepository {
  return {
    async registerVersion(v) {
      // One transaction with no other awaits inside (PGlite has a single connection).
      return prisma.$transaction(async (tx) => {
        await tx.module.createMany({ data: [{ digest: v.moduleDigest, size: v.moduleSize }], skipDuplicates: true });
        await tx.tenantModule.createMany({ data: [{ tenantId: v.tenantId, digest: v.moduleDigest }], skipDuplicates: true });
        // Create on first registration (no version yet), else lock the live agent with a no-op update:
        // concurrent registrations of one name take turns from here, each seeing the versions of those before.
        const [agent] = await tx.$queryRawUnsafe<Agent[]>(
          `INSERT INTO agent AS a (tenant_id, name, description, latest_version)
           VALUES ($1::uuid, $2, $3, 0)
           ON CONFLICT (tenant_id, name) WHERE deleted_at IS NULL DO UPDATE SET latest_version = a.latest_version
           RETURNING ${AGENT_COLUMNS}`,
          v.tenantId,
          v.name,
          v.description ?? null,
        );
        const defaultLimits = JSON.parse(JSON.stringify(limitsToJson(v.defaultLimits))) as object;
        // The same registration again (same module, same default limits, no other description) is the latest version.
        const same =
          agent!.latestVersion > 0 && (v.description == null || v.description === agent!.description)
            ? await tx.agentVersion.findFirst({
                where: { agentId: agent!.id, version: agent!.latestVersion, moduleDigest: v.moduleDigest, defaultLimits: { equals: defaultLimits } },
              })
            : null;
        if (same) return { agent: toAgentRow(agent!), version: toAgentVersionRow(same), created: false };
        const [bumped] = await tx.$queryRawUnsafe<Agent[]>(
          `UPDATE agent AS a SET latest_version = a.latest_version + 1, description = COALESCE($2, a.description), updated_at = now()
            WHERE a.id = $1::uuid RETURNING ${AGENT_COLUMNS}`,
          agent!.id,
          v.description ?? null,
        );
        const version = await tx.agentVersion.create({
          data: {
            agentId: bumped!.id,
            tenantId: v.tenantId,
            version: bumped!.latestVersion,
            moduleDigest: v.moduleDigest,
            moduleSize: v.moduleSize,
            imports: v.imports,
            exports: v.exports,
            memoryInitialPages: v.memoryInitialPages,
            memoryMaximumPages: v.memoryMaximumPages,
            defaultLimits,
          },
        });
        return { agent: toAgentRow(bumped!), version: toAgentVersionRow(version), created: true };
      });
    },

    async get(tenantId, id) {
      if (!isUuid(id)) return null;
      const a = await prisma.agent.findFirst({ where: { id, tenantId } });
      return a && toAgentRow(a);
    },

    async name(tenantId, id) {
      if (!isUuid(id)) return null;
      // By primary key, deleted or not: a task keeps running the agent it was submitted to.
      const [row] = await sql.query<{ name: string }>('SELECT name FROM agent WHERE id = $1 AND tenant_id = $2', [id, tenantId]);
      return row?.name ?? null;
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
