-- The retention sweeper (src/executor/sweeper.ts, src/store/retention.ts).
--
-- Per-tenant retention overrides in ms (NULL = the server default from the RETAIN_* options,
-- 0 = kept forever).
-- AlterTable
ALTER TABLE "tenant" ADD COLUMN     "retain_cancelled_ms" BIGINT,
ADD COLUMN     "retain_failed_ms" BIGINT,
ADD COLUMN     "retain_succeeded_ms" BIGINT;

-- Expired tasks by tenant, status and end time: each sweep reads, per tenant, the oldest ended
-- tasks of one status up to that tenant's cutoff, without visiting the ended tasks kept longer
-- (or forever). Partial like task_finished_idx: only ended tasks, so claims and heartbeats never
-- touch it.
-- CreateIndex
CREATE INDEX "task_expiry_idx" ON "task"("tenant_id", "status", "finished_at") WHERE finished_at IS NOT NULL;

-- A task's attempts by task, whatever their staleness: deleting a task deletes its attempts
-- (ON DELETE CASCADE), and the foreign key's own statement (task_id = $1) can use neither partial
-- index of task_attempt; without this one every deleted task would scan the whole table.
-- CreateIndex
CREATE INDEX "task_attempt_task_idx" ON "task_attempt"("task_id");

-- Who still references a file bundle, before the sweeper deletes its blob. Partial: most tasks
-- have no files and add nothing here.
-- CreateIndex
CREATE INDEX "task_files_idx" ON "task"("files_digest") WHERE files_digest IS NOT NULL;

-- CreateIndex
CREATE INDEX "task_attempt_files_idx" ON "task_attempt"("files_digest") WHERE files_digest IS NOT NULL;
