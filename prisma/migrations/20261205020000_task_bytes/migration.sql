-- QUOTA_TASK_BYTES: what a tenant's attempts store (stdout, stderr, output files), kept as a
-- ledger of per-tenant deltas written by triggers in the statement that inserts or deletes
-- attempts: no statement of the hot path changes, inserts never contend for a counter row, and the
-- quota check sums a few rows per tenant instead of every attempt. The sweeper folds the ledger
-- into one row per tenant (src/store/retention.ts).

-- Per-tenant quota override (NULL = the server default).
-- AlterTable
ALTER TABLE "tenant" ADD COLUMN     "quota_task_bytes" BIGINT;

-- CreateTable
CREATE TABLE "task_bytes" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" UUID NOT NULL,
    "bytes" BIGINT NOT NULL,

    CONSTRAINT "task_bytes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "task_bytes_tenant_id_idx" ON "task_bytes"("tenant_id");

-- AddForeignKey
ALTER TABLE "task_bytes" ADD CONSTRAINT "task_bytes_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- What one attempt stores: its output and the files it wrote (their sizes as recorded).
CREATE FUNCTION "task_attempt_bytes"(stdout BYTEA, stderr BYTEA, files JSONB) RETURNS BIGINT LANGUAGE sql IMMUTABLE AS $$
  SELECT octet_length(stdout)::bigint + octet_length(stderr)
    -- Most attempts write no files: skip the set-returning call for them.
    + CASE WHEN files = '[]'::jsonb THEN 0
           ELSE coalesce((SELECT sum((f->>'size')::bigint) FROM jsonb_array_elements(files) f), 0) END
$$;

-- One ledger row per tenant and statement, not per attempt.
CREATE FUNCTION "task_bytes_added"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO task_bytes (tenant_id, bytes)
  SELECT n.tenant_id, sum(task_attempt_bytes(n.stdout, n.stderr, n.files)) FROM new_rows n GROUP BY n.tenant_id;
  RETURN NULL;
END $$;

CREATE FUNCTION "task_bytes_removed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO task_bytes (tenant_id, bytes)
  SELECT o.tenant_id, -sum(task_attempt_bytes(o.stdout, o.stderr, o.files)) FROM old_rows o GROUP BY o.tenant_id;
  RETURN NULL;
END $$;

CREATE TRIGGER "task_attempt_bytes_insert" AFTER INSERT ON "task_attempt"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION task_bytes_added();

CREATE TRIGGER "task_attempt_bytes_delete" AFTER DELETE ON "task_attempt"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION task_bytes_removed();
