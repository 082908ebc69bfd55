/** Builds from source: the modules they made, by the digest of their inputs (the build cache), and the builds asked for with buildAgent. */
import type { Prisma } from './db.js';
import type { AgentBuildRepository, AgentBuildRow, BuildRepository, SourceBuildRow } from './types.js';

export function makeBuildRepository(prisma: Prisma): BuildRepository {
  return {
    async get(tenantId, inputDigest) {
      const b = await prisma.sourceBuild.findUnique({ where: { tenantId_inputDigest: { tenantId, inputDigest } } });
      return (
        b && {
          inputDigest: b.inputDigest,
          moduleDigest: b.moduleDigest,
          language: b.language,
          compiler: b.compiler,
          log: b.log,
          diagnostics: b.diagnostics as SourceBuildRow['diagnostics'],
          buildMs: b.buildMs,
          createdAt: b.createdAt,
        }
      );
    },
    async record(tenantId, b) {
      // The module row exists (recorded for the tenant first); a second build of the same inputs keeps the first.
      await prisma.sourceBuild.createMany({
        data: [{ tenantId, inputDigest: b.inputDigest, moduleDigest: b.moduleDigest, language: b.language, compiler: b.compiler, log: b.log, diagnostics: b.diagnostics as object[], buildMs: Math.round(b.buildMs) }],
        skipDuplicates: true,
      });
    },
  };
}

type AgentBuildRecord = Awaited<ReturnType<Prisma['agentBuild']['create']>>;
const toAgentBuild = (b: AgentBuildRecord): AgentBuildRow => ({
  ...b,
  status: b.status as AgentBuildRow['status'],
  diagnostics: b.diagnostics as AgentBuildRow['diagnostics'],
});

export function makeAgentBuildRepository(prisma: Prisma): AgentBuildRepository {
  return {
    async create(row) {
      return toAgentBuild(await prisma.agentBuild.create({ data: { ...row, status: 'QUEUED' } }));
    },
    async update(id, change) {
      const { diagnostics, ...rest } = change;
      const data = { ...rest, ...(diagnostics ? { diagnostics: diagnostics as object[] } : {}), heartbeatAt: new Date() };
      return toAgentBuild(await prisma.agentBuild.update({ where: { id }, data }));
    },
    async heartbeat(ids) {
      if (ids.length > 0) await prisma.agentBuild.updateMany({ where: { id: { in: ids } }, data: { heartbeatAt: new Date() } });
    },
    async get(tenantId, id) {
      const b = await prisma.agentBuild.findFirst({ where: { id, tenantId } });
      return b && toAgentBuild(b);
    },
  };
}
