-- The user's controls of an agent: pause (its tasks are not claimed; submits still queue them) and a
-- concurrency limit (at most this many of its tasks held at once, claimed or RUNNING, cluster-wide).
-- Both are enforced by the claim (src/store/agent-claim.ts), which reads them from this row.
-- AlterTable
ALTER TABLE "agent" ADD COLUMN     "paused" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "concurrency_limit" INTEGER;

-- The claim while agents are paused or limited: one agent's claimable tasks in claim order, so a
-- paused agent's backlog, or the queue of one at its limit, costs one probe instead of a scan.
CREATE INDEX "task_agent_claim_idx" ON "task"("agent_id", "priority" DESC, "queued_at", "id", "run_at") WHERE status IN ('QUEUED', 'RETRYING') AND lease_owner IS NULL;
