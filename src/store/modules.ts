/** Which tenant stored which blob, for stored-bytes accounting (the bytes themselves are shared). */
import type { Prisma } from './db.js';
import type { ModuleRepository, ModuleRow } from './types.js';

export function makeModuleRepository(prisma: Prisma): ModuleRepository {
  const toRow = (m: { digest: string; createdAt: Date; module: { size: bigint } }): ModuleRow => ({
    digest: m.digest,
    size: Number(m.module.size),
    createdAt: m.createdAt,
  });
  return {
    async record(tenantId, digest, size) {
      // Two statements, no transaction: the module row is global and idempotent on its own.
      await prisma.module.createMany({ data: [{ digest, size }], skipDuplicates: true });
      await prisma.tenantModule.createMany({ data: [{ tenantId, digest }], skipDuplicates: true });
    },
    async get(tenantId, digest) {
      const m = await prisma.tenantModule.findUnique({
        where: { tenantId_digest: { tenantId, digest } },
        include: { module: { select: { size: true } } },
      });
      return m && toRow(m);
    },
    async list(tenantId) {
      const rows = await prisma.tenantModule.findMany({
        where: { tenantId },
        include: { module: { select: { size: true } } },
        orderBy: { createdAt: 'desc' },
      });
      return rows.map(toRow);
    },
    async storedBytes(tenantId) {
      const rows = await prisma.$queryRawUnsafe<{ total: bigint | null }[]>(
        `SELECT sum(m.size)::bigint AS total FROM tenant_module tm JOIN module m ON m.digest = tm.digest WHERE tm.tenant_id = $1::uuid`,
        tenantId,
      );
      return Number(rows[0]?.total ?? 0n);
    },
  };
}
