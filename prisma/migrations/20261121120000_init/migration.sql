-- Spindle initial schema. Hand-written to match prisma/schema.prisma exactly (the Prisma CLI's
-- schema engine is not available on these machines); applied by src/store/migrate.ts.

-- CreateEnum
CREATE TYPE "api_key_role" AS ENUM ('admin', 'submitter', 'viewer');

-- CreateEnum
CREATE TYPE "task_status" AS ENUM ('QUEUED', 'RUNNING', 'RETRYING', 'SUCCEEDED', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "outcome_kind" AS ENUM ('exited', 'trap', 'timeout', 'fuel_exhausted', 'memory_limit', 'output_limit', 'invalid_module', 'cancelled', 'host_error');

-- CreateTable
CREATE TABLE "tenant" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tenant_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_key" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "secret_hash" TEXT NOT NULL,
    "role" "api_key_role" NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_key_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "agent" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "latest_version" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMPTZ(3),

    CONSTRAINT "agent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "module" (
    "digest" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "module_pkey" PRIMARY KEY ("digest")
);

-- CreateTable
CREATE TABLE "tenant_module" (
    "tenant_id" UUID NOT NULL,
    "digest" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tenant_module_pkey" PRIMARY KEY ("tenant_id","digest")
);

-- CreateTable
CREATE TABLE "agent_version" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "agent_id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "module_digest" TEXT NOT NULL,
    "module_size" INTEGER NOT NULL,
    "imports" JSONB NOT NULL DEFAULT '[]',
    "exports" JSONB NOT NULL DEFAULT '[]',
    "memory_initial_pages" INTEGER,
    "memory_maximum_pages" INTEGER,
    "default_limits" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agent_version_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "task" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "agent_id" UUID NOT NULL,
    "agent_version_id" UUID NOT NULL,
    "module_digest" TEXT NOT NULL,
    "status" "task_status" NOT NULL DEFAULT 'QUEUED',
    "priority" INTEGER NOT NULL DEFAULT 0,
    "stdin" BYTEA NOT NULL DEFAULT '\x',
    "args" JSONB NOT NULL DEFAULT '[]',
    "env" JSONB NOT NULL DEFAULT '{}',
    "files_digest" TEXT,
    "timeout_ms" INTEGER NOT NULL,
    "memory_bytes" BIGINT NOT NULL,
    "fuel" BIGINT,
    "max_output_bytes" INTEGER NOT NULL,
    "retry" JSONB NOT NULL,
    "deterministic" JSONB,
    "idempotency_key" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "attempt_base" INTEGER NOT NULL DEFAULT 0,
    "run_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lease_owner" TEXT,
    "lease_expires_at" TIMESTAMPTZ(3),
    "last_outcome" "outcome_kind",
    "exit_code" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "task_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "task_attempt" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "task_id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "n" INTEGER NOT NULL,
    "node" TEXT NOT NULL,
    "outcome" "outcome_kind" NOT NULL,
    "exit_code" INTEGER,
    "stdout" BYTEA NOT NULL DEFAULT '\x',
    "stderr" BYTEA NOT NULL DEFAULT '\x',
    "stdout_truncated" BOOLEAN NOT NULL DEFAULT false,
    "stderr_truncated" BOOLEAN NOT NULL DEFAULT false,
    "trap_code" TEXT,
    "trap_message" TEXT,
    "error" TEXT,
    "compile_ms" INTEGER NOT NULL DEFAULT 0,
    "run_ms" INTEGER NOT NULL DEFAULT 0,
    "fuel_used" BIGINT,
    "memory_peak_bytes" BIGINT NOT NULL DEFAULT 0,
    "files" JSONB NOT NULL DEFAULT '[]',
    "files_digest" TEXT,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "finished_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "task_attempt_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "tenant_name_key" ON "tenant"("name");

-- CreateIndex
CREATE UNIQUE INDEX "api_key_secret_hash_key" ON "api_key"("secret_hash");

-- CreateIndex
CREATE INDEX "api_key_tenant_id_created_at_idx" ON "api_key"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "agent_tenant_id_created_at_idx" ON "agent"("tenant_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "agent_tenant_id_name_live_key" ON "agent"("tenant_id", "name") WHERE deleted_at IS NULL;

-- CreateIndex
CREATE INDEX "tenant_module_digest_idx" ON "tenant_module"("digest");

-- CreateIndex
CREATE INDEX "agent_version_module_digest_idx" ON "agent_version"("module_digest");

-- CreateIndex
CREATE UNIQUE INDEX "agent_version_agent_id_version_key" ON "agent_version"("agent_id", "version");

-- CreateIndex
CREATE INDEX "task_claim_idx" ON "task"("priority" DESC, "run_at", "created_at", "id") WHERE status IN ('QUEUED', 'RETRYING');

-- CreateIndex
CREATE INDEX "task_lease_idx" ON "task"("lease_expires_at") WHERE status = 'RUNNING';

-- CreateIndex
CREATE INDEX "task_tenant_id_created_at_id_idx" ON "task"("tenant_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "task_tenant_id_status_created_at_idx" ON "task"("tenant_id", "status", "created_at");

-- CreateIndex
CREATE INDEX "task_tenant_id_agent_id_created_at_idx" ON "task"("tenant_id", "agent_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "task_tenant_id_idempotency_key_key" ON "task"("tenant_id", "idempotency_key");

-- CreateIndex
CREATE UNIQUE INDEX "task_attempt_task_id_n_key" ON "task_attempt"("task_id", "n");

-- AddForeignKey
ALTER TABLE "api_key" ADD CONSTRAINT "api_key_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent" ADD CONSTRAINT "agent_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tenant_module" ADD CONSTRAINT "tenant_module_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tenant_module" ADD CONSTRAINT "tenant_module_digest_fkey" FOREIGN KEY ("digest") REFERENCES "module"("digest") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_version" ADD CONSTRAINT "agent_version_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agent"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_version" ADD CONSTRAINT "agent_version_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_version" ADD CONSTRAINT "agent_version_module_digest_fkey" FOREIGN KEY ("module_digest") REFERENCES "module"("digest") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "task" ADD CONSTRAINT "task_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "task" ADD CONSTRAINT "task_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agent"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "task" ADD CONSTRAINT "task_agent_version_id_fkey" FOREIGN KEY ("agent_version_id") REFERENCES "agent_version"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "task_attempt" ADD CONSTRAINT "task_attempt_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "task"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "task_attempt" ADD CONSTRAINT "task_attempt_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The default tenant: single-tenant installations and unauthenticated development use it.
INSERT INTO "tenant" ("id", "name") VALUES ('00000000-0000-0000-0000-000000000000', 'default');
