-- WASI options a task may set (issue 12): { argv0?, mounts?: [{ path, readOnly }] }; NULL = the
-- defaults (argv[0] is the agent's name, "/" alone is preopened, writable). Written in the task's INSERT.
-- AlterTable
ALTER TABLE "task" ADD COLUMN     "wasi" JSONB;
