-- Tasks by the time they reached a terminal status: the event bus's replay after a pub/sub outage
-- (TaskRepository.finishedBetween), and later the retention sweeper. Partial: rows that are queued,
-- claimed or running have finished_at NULL and are not in it, so claims and heartbeats never touch
-- it; each task adds one entry when it ends.
-- CreateIndex
CREATE INDEX "task_finished_idx" ON "task"("finished_at", "id") WHERE finished_at IS NOT NULL;
