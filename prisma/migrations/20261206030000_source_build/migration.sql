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

-- A build asked for with buildAgent (asynchronous): its state, followed with build(id) and
-- buildUpdated(id). The node doing it renews heartbeat_at; a QUEUED or RUNNING build whose
-- heartbeat is older than BUILD_STALE_MS is read as FAILED (its node stopped).
CREATE TABLE "agent_build" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "agent_name" TEXT NOT NULL,
    "language" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "log" TEXT NOT NULL DEFAULT '',
    "diagnostics" JSONB NOT NULL DEFAULT '[]',
    "error" TEXT,
    "cached" BOOLEAN NOT NULL DEFAULT false,
    "agent_id" UUID,
    "agent_version" INTEGER,
    "node" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "heartbeat_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agent_build_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "agent_build_tenant_id_created_at_idx" ON "agent_build"("tenant_id", "created_at");

ALTER TABLE "agent_build" ADD CONSTRAINT "agent_build_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;
