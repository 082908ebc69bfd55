-- VACUUM gives the empty pages at a table's end back to the file system by truncating it, which
-- takes an ACCESS EXCLUSIVE lock: every claim, submit and read of the table waits for it. On the
-- queue's own tables, whose size the retention sweeper keeps steady, those pages are reused a
-- moment later anyway: truncating them only makes the file shrink and regrow, and stalls the queue
-- each time. Space freed inside the tables is still reused (plain VACUUM, the sweeper's).
ALTER TABLE "task" SET (vacuum_truncate = false);
ALTER TABLE "task_attempt" SET (vacuum_truncate = false);
