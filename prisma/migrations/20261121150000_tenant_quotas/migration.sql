-- Per-tenant quota overrides (NULL = the server default from the QUOTA_* options).
-- AlterTable
ALTER TABLE "tenant" ADD COLUMN     "quota_active_tasks" INTEGER,
ADD COLUMN     "quota_queued_tasks" INTEGER,
ADD COLUMN     "quota_running_tasks" INTEGER,
ADD COLUMN     "quota_stored_bytes" BIGINT,
ADD COLUMN     "quota_submit_burst" INTEGER,
ADD COLUMN     "quota_submit_rate" INTEGER;

-- CreateIndex
CREATE INDEX "task_tenant_claim_idx" ON "task"("tenant_id", "priority" DESC, "run_at", "created_at", "id") WHERE status IN ('QUEUED', 'RETRYING');
