/**
 * Agents and their versions. Registering is one transaction that adds a version, or returns the
 * latest one when it is the same registration again (see registerVersion); deleting is soft. Reads for the API go
 * through the Prisma client (the API lane); `name`, which the executor needs to start a run, through
 * the executor's lane (db.ts), so a node's first run of an agent never waits behind API load.
 */
import type { Agent } from '../generated/prisma/client.js';
import { TASK_STATUSES } from '../domain/index.js';
import type { RunningCapsCache } from './caps.js';
import type { Prisma, Sql } from './db.js';
import { isUuid } from './ids.js';
import { limitsToJson, toAgentRow, toAgentVersionRow } from './map.js';
import type { AgentRepository, AgentStatsRow, NewAgentVersion } from './types.js';

const AGENT_COLUMNS = `a.id, a.tenant_id AS "tenantId", a.name, a.description, a.latest_version AS "latestVersion",
  a.created_at AS "createdAt", a.updated_at AS "updatedAt", a.deleted_at AS "deletedAt", a.paused,
  a.concurrency_limit AS "concurrencyLimit"`;

export function makeAgentRepository(prisma: Prisma, sql: Sql, caps: RunningCapsCache): AgentRepository {
  /** One transaction with no other awaits inside (PGlite has a single connection). */
  function registerInTransaction(v: NewAgentVersion): ReturnType<AgentRepository['registerVersion']> {
    return prisma.$transaction(async (tx) => {
      await tx.module.createMany({ data: [{ digest: v.moduleDigest, size: v.moduleSize }], skipDuplicates: true });
      await tx.tenantModule.createMany({ data: [{ tenantId: v.tenantId, digest: v.moduleDigest }], skipDuplicates: true });
      // Create on first registration (no version yet), else lock the live agent with a no-op update:
      // concurrent registrations of one name take turns from here, each seeing the versions of those before.
      const [agent] = await tx.$queryRawUnsafe<Agent[]>(
        `INSERT INTO agent AS a (tenant_id, name, description, latest_version, concurrency_limit)
         VALUES ($1::uuid, $2, $3, 0, $4::int)
         ON CONFLICT (tenant_id, name) WHERE deleted_at IS NULL
         DO UPDATE SET latest_version = a.latest_version, concurrency_limit = COALESCE(EXCLUDED.concurrency_limit, a.concurrency_limit)
         RETURNING ${AGENT_COLUMNS}`,
        v.tenantId,
        v.name,
        v.description ?? null,
        v.concurrencyLimit ?? null,
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
  }

  return {
    async registerVersion(v) {
      const registered = await registerInTransaction(v);
      // The claim's cache sees the limit at once (no claim-on-insert for this agent from now on).
      if (v.concurrencyLimit != null) await caps.reload();
      return registered;
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

    async setControls(tenantId, id, { paused, concurrencyLimit }) {
      if (!isUuid(id)) return null;
      const [row] = await prisma.$queryRawUnsafe<Agent[]>(
        `UPDATE agent AS a SET paused = COALESCE($3, a.paused),
                concurrency_limit = CASE WHEN $4 THEN $5::int ELSE a.concurrency_limit END, updated_at = now()
          WHERE a.id = $1::uuid AND a.tenant_id = $2::uuid RETURNING ${AGENT_COLUMNS}`,
        id,
        tenantId,
        paused ?? null,
        concurrencyLimit !== undefined,
        concurrencyLimit ?? null,
      );
      // This node's claims (and claim-on-insert) follow at once; other nodes within CAPS_CACHE_MS.
      await caps.reload();
      return row ? toAgentRow(row) : null;
    },

    async stats(tenantId, agentId, windowMs, maxTasks) {
      const since = new Date(Date.now() - windowMs);
      // Bounded: the window's newest maxTasks tasks by task_tenant_id_agent_id_created_at_idx, and
      // their attempts by task_attempt_task_idx.
      const [row] = await prisma.$queryRawUnsafe<StatsRecord[]>(
        `WITH recent AS MATERIALIZED (
           SELECT t.id, t.status, t.created_at FROM task t
            WHERE t.tenant_id = $1::uuid AND t.agent_id = $2::uuid AND t.created_at >= $3::timestamptz
            ORDER BY t.created_at DESC LIMIT $4::int
         ), counted AS (SELECT r.status::text AS status, count(*)::int AS n FROM recent r GROUP BY r.status)
         SELECT (SELECT count(*)::int FROM recent) AS tasks,
                (SELECT count(*) FROM recent) = $4::int AND EXISTS (
                  SELECT 1 FROM task t WHERE t.tenant_id = $1::uuid AND t.agent_id = $2::uuid AND t.created_at >= $3::timestamptz
                     AND t.created_at < (SELECT min(r.created_at) FROM recent r)) AS truncated,
                (SELECT COALESCE(json_object_agg(c.status, c.n), '{}')::text FROM counted c) AS "byStatus",
                count(x.id)::int AS attempts,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY x.run_ms) AS p50,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY x.run_ms) AS p95,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY x.run_ms) AS p99
           FROM task_attempt x WHERE x.task_id IN (SELECT r.id FROM recent r) AND NOT x.stale`,
        tenantId,
        agentId,
        since,
        maxTasks,
      );
      const counts = JSON.parse(row!.byStatus) as Record<string, number>;
      const ms = (v: number | null) => (v === null ? null : Math.round(Number(v)));
      return {
        since,
        tasks: Number(row!.tasks),
        truncated: row!.truncated,
        byStatus: Object.fromEntries(TASK_STATUSES.map((s) => [s, counts[s] ?? 0])) as AgentStatsRow['byStatus'],
        attempts: Number(row!.attempts),
        runMsP50: ms(row!.p50),
        runMsP95: ms(row!.p95),
        runMsP99: ms(row!.p99),
      };
    },
  };
}

interface StatsRecord {
  tasks: number;
  truncated: boolean;
  byStatus: string;
  attempts: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}
