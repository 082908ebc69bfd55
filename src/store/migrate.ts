/**
 * Applies prisma/migrations at start-up, the way `prisma migrate deploy` would: the same
 * `_prisma_migrations` table, sha256 checksums of the files, one transaction per migration.
 * The Prisma CLI's schema engine cannot run on these machines, so the app does it itself; the
 * table stays compatible, so `prisma migrate status` still reads it where the CLI works.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** src/store → ../../prisma/migrations; dist/store → the same (rootDir src, outDir dist). */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));

/** The few things the runner needs from a connection (a pg.Client or a PGlite instance). */
export interface MigrationConnection {
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs `script` (many statements, no parameters) plus `after` in one transaction. */
  transaction(script: string, after: { sql: string; params: unknown[] }): Promise<void>;
}

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

// The table exactly as Prisma's schema engine creates it.
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export async function readMigrations(dir = DEFAULT_MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  return Promise.all(
    names.map(async (name) => {
      const bytes = await readFile(join(dir, name, 'migration.sql'));
      return { name, sql: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') };
    }),
  );
}

/**
 * Applies the pending migrations in name order and returns their names. Refuses (throws) when an
 * applied migration's file changed or a migration is recorded as failed: the database and the code
 * disagree, and guessing would be worse than stopping.
 */
export async function migrate(conn: MigrationConnection, files: MigrationFile[]): Promise<string[]> {
  await conn.query(CREATE_TABLE);
  const applied = await conn.query<{ migration_name: string; checksum: string; finished_at: unknown; rolled_back_at: unknown }>(
    'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"',
  );
  const done = new Map<string, string>();
  for (const row of applied) {
    if (row.rolled_back_at != null) continue;
    if (row.finished_at == null) {
      throw new Error(`migration ${row.migration_name} is recorded as failed in _prisma_migrations; resolve it before starting`);
    }
    done.set(row.migration_name, row.checksum);
  }
  const ran: string[] = [];
  for (const file of files) {
    const checksum = done.get(file.name);
    if (checksum !== undefined) {
      if (checksum !== file.checksum) {
        throw new Error(
          `migration ${file.name} was changed after it was applied (checksum ${checksum} in the database, ${file.checksum} on disk); refusing to start`,
        );
      }
      continue;
    }
    try {
      await conn.transaction(file.sql, {
        sql: `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
              VALUES ($1, $2, $3, now(), now(), 1)`,
        params: [randomUUID(), file.checksum, file.name],
      });
    } catch (err) {
      throw new Error(`migration ${file.name} failed: ${(err as Error).message}`, { cause: err });
    }
    ran.push(file.name);
  }
  return ran;
}
