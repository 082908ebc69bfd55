/** Modules built from source, by the digest of the build's inputs (the build cache). */
import type { Prisma } from './db.js';
import type { BuildRepository, SourceBuildRow } from './types.js';

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
