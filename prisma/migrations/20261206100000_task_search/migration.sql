-- Task search (tasks(filter: { search })): a capped UTF-8 copy of what a user searches a task by,
-- written by the statements that already write the row (the queue's insert and finish, no extra
-- statement): "<agent name> <args> <stdin head>", a record separator (U+001E), then the last
-- attempt's "<stdout head> <trap message> <error> <stderr head>" (src/store/search-text.ts caps
-- each part; the finish replaces what follows the separator). Matched with ILIKE through a GIN
-- trigram index, so a substring of 3 or more characters is found without reading every row.
--
-- pg_trgm lives in one schema of the database (public), whichever schema Spindle's tables are in:
-- two Spindle schemas in one database share it, and dropping one of them cannot drop the extension
-- from under the other's index. The advisory lock serialises the check-then-create of two nodes
-- (or two schemas) migrating at once; CREATE EXTENSION IF NOT EXISTS alone can race.
ALTER TABLE "task" ADD COLUMN "search_text" TEXT NOT NULL DEFAULT '';

-- Tasks that exist already: their agent's name and args (no stdin or output: bytea is not
-- necessarily UTF-8, and decoding it here could fail the migration).
UPDATE "task" t SET "search_text" = left(a."name" || ' ' || array_to_string(ARRAY(SELECT jsonb_array_elements_text(t."args")), ' '), 2048) || chr(30)
  FROM "agent" a WHERE a."id" = t."agent_id";

DO $$
DECLARE
  ext_schema text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('spindle:pg_trgm'));
  SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
  IF ext_schema IS NULL THEN
    ext_schema := CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') THEN 'public' ELSE current_schema() END;
    EXECUTE format('CREATE EXTENSION pg_trgm SCHEMA %I', ext_schema);
  END IF;
  -- Every task writes this column twice (insert, finish). On PGlite (one process, no autovacuum)
  -- GIN's pending list made those writes pay for its cleanup in bursts: a claim-heavy test suite
  -- took 80 s against 62 s with the entries written directly (fastupdate off), as without the
  -- index. PostgreSQL keeps the pending list, which batches the entries of concurrent writers
  -- (the queue's throughput was measured with it); its autovacuum does the cleanup.
  EXECUTE format('CREATE INDEX "task_search_idx" ON "task" USING gin ("search_text" %I.gin_trgm_ops)%s', ext_schema,
    CASE WHEN version() LIKE '%emscripten%' THEN ' WITH (fastupdate = off)' ELSE '' END);
END $$;
