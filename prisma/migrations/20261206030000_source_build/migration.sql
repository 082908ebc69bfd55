-- Agents built from source (registerAgent with `source`): the module a build made, by the digest
-- of the build's inputs (language, compiler and version, files), so the same source registered
-- again reuses it instead of building it again. Only successful builds are kept.
CREATE TABLE "source_build" (
    "tenant_id" UUID NOT NULL,
    "input_digest" TEXT NOT NULL,
    "module_digest" TEXT NOT NULL,
    "language" TEXT NOT NULL,
    "compiler" TEXT NOT NULL,
    "log" TEXT NOT NULL,
    "diagnostics" JSONB NOT NULL DEFAULT '[]',
    "build_ms" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "source_build_pkey" PRIMARY KEY ("tenant_id", "input_digest")
);

CREATE INDEX "source_build_module_digest_idx" ON "source_build"("module_digest");

ALTER TABLE "source_build" ADD CONSTRAINT "source_build_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "source_build" ADD CONSTRAINT "source_build_module_digest_fkey" FOREIGN KEY ("module_digest") REFERENCES "module"("digest") ON DELETE CASCADE ON UPDATE CASCADE;
