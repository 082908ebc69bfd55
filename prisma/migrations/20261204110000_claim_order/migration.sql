-- Fair claim order, claimed ≠ running, stale attempts (issue 9; docs/RATIONALE.md "Queue: …").

-- queued_at: when the task entered the queue by a user's action (submit, manual retry); kept
-- across automatic retries and lease recovery, so those keep their place. Existing rows: created_at.
-- AlterTable
ALTER TABLE "task" ADD COLUMN "queued_at" TIMESTAMPTZ(3);
UPDATE "task" SET "queued_at" = "created_at";
ALTER TABLE "task" ALTER COLUMN "queued_at" SET NOT NULL,
ALTER COLUMN "queued_at" SET DEFAULT CURRENT_TIMESTAMP;

-- A late result of a node that lost its lease, kept beside the attempt that replaced it.
-- AlterTable
ALTER TABLE "task_attempt" ADD COLUMN "stale" BOOLEAN NOT NULL DEFAULT false;

-- DropIndex
DROP INDEX "task_claim_idx";
DROP INDEX "task_tenant_claim_idx";
DROP INDEX "task_lease_idx";
DROP INDEX "task_attempt_task_id_n_key";

-- CreateIndex
CREATE INDEX "task_claim_idx" ON "task"("priority" DESC, "queued_at", "id", "run_at") WHERE status IN ('QUEUED', 'RETRYING') AND lease_owner IS NULL;

-- CreateIndex
CREATE INDEX "task_tenant_claim_idx" ON "task"("tenant_id", "priority" DESC, "queued_at", "id", "run_at") WHERE status IN ('QUEUED', 'RETRYING') AND lease_owner IS NULL;

-- CreateIndex
CREATE INDEX "task_delayed_idx" ON "task"("run_at") WHERE status IN ('QUEUED', 'RETRYING') AND lease_owner IS NULL AND run_at > queued_at;

-- CreateIndex
CREATE INDEX "task_lease_idx" ON "task"("lease_expires_at") WHERE status IN ('QUEUED', 'RETRYING', 'RUNNING') AND lease_owner IS NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX "task_attempt_task_id_n_key" ON "task_attempt"("task_id", "n") WHERE NOT stale;

-- CreateIndex
CREATE INDEX "task_attempt_stale_idx" ON "task_attempt"("task_id") WHERE stale;
