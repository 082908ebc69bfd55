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

-- PostgreSQL only. On PGlite (embedded: one process, no autovacuum) the index made every task write
-- pay for its trigrams on the node's own thread: the queue's throughput fell from ~2,700 to ~1,550
-- tasks/s (bench/e2e.ts, 10,000 tasks), with fastupdate off or with its pending list cleaned in
-- bursts. There a search reads the tenant's rows (ILIKE needs no extension), as a dev-sized
-- database allows; README "Search" gives the figures.
DO $$
DECLARE
  ext_schema text;
BEGIN
  IF version() LIKE '%emscripten%' THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('spindle:pg_trgm'));
  SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
  IF ext_schema IS NULL THEN
    ext_schema := CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') THEN 'public' ELSE current_schema() END;
    EXECUTE format('CREATE EXTENSION pg_trgm SCHEMA %I', ext_schema);
  END IF;
  -- The pending list (fastupdate, the default) batches the entries of concurrent writers; autovacuum
  -- does its cleanup (the queue's throughput was measured with it).
  EXECUTE format('CREATE INDEX "task_search_idx" ON "task" USING gin ("search_text" %I.gin_trgm_ops)', ext_schema);
END $$;
