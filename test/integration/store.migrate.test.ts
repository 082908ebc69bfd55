import { cp, mkdtemp, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { makeStore, DEFAULT_TENANT_ID } from '../../src/store/index.js';
import { DEFAULT_MIGRATIONS_DIR, readMigrations } from '../../src/store/migrate.js';
import { databaseUrl, makeTestStore, type TestStore } from '../helpers/store.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function track(t: Promise<TestStore>): Promise<TestStore> {
  const ts = await t;
  cleanups.push(ts.cleanup);
  return ts;
}

async function appliedMigrations(ts: TestStore): Promise<{ migration_name: string; checksum: string; finished_at: Date | null }[]> {
  // Read through a second connection on PostgreSQL; on PGlite reopen after close is covered elsewhere.
  if (!databaseUrl) return [];
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT migration_name, checksum, finished_at FROM "${ts.options.pgSchema}"."_prisma_migrations" ORDER BY migration_name`,
    );
    return rows;
  } finally {
    await client.end();
  }
}

describe('migrations', () => {
  it('apply on an empty database: tables, default tenant, _prisma_migrations with checksums', async () => {
    const ts = await track(makeTestStore());
    await ts.store.ping();
    const tenant = await ts.store.tenants.get(DEFAULT_TENANT_ID);
    expect(tenant).toMatchObject({ id: DEFAULT_TENANT_ID, name: 'default' });
    const files = await readMigrations();
    expect(files.length).toBeGreaterThan(0);
    if (databaseUrl) {
      const applied = await appliedMigrations(ts);
      expect(applied.map((r) => r.migration_name)).toEqual(files.map((f) => f.name));
      expect(applied.map((r) => r.checksum)).toEqual(files.map((f) => f.checksum));
      expect(applied.every((r) => r.finished_at instanceof Date)).toBe(true);
    }
  });

  it('are idempotent on restart: a second store on the same data keeps the data', async () => {
    const ts = await track(makeTestStore());
    await ts.store.tenants.create('acme');
    await ts.store.close();
    const again = await makeStore(ts.options);
    try {
      expect((await again.tenants.getByName('acme'))?.name).toBe('acme');
      expect((await again.tenants.list()).map((t) => t.name).sort()).toEqual(['acme', 'default']);
    } finally {
      await again.close();
    }
  });

  it('refuse to start when an applied migration changed, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spindle-migrations-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
    const ts = await track(makeTestStore({ migrationsDir: dir }));
    await ts.store.close();
    const [first] = await readMigrations(dir);
    await appendFile(join(dir, first!.name, 'migration.sql'), '\n-- edited after the fact\n');
    await expect(makeStore(ts.options)).rejects.toThrow(new RegExp(`migration ${first!.name} was changed`));
  });

  it('apply a new migration on restart, once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spindle-migrations-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
    const ts = await track(makeTestStore({ migrationsDir: dir }));
    await ts.store.close();
    const name = '29990101000000_more';
    await cp(join(dir, (await readMigrations(dir))[0]!.name), join(dir, name), { recursive: true });
    await writeFile(join(dir, name, 'migration.sql'), `INSERT INTO "tenant" ("name") VALUES ('from-migration');\n`);
    for (let i = 0; i < 2; i++) {
      const s = await makeStore(ts.options);
      try {
        expect((await s.tenants.list()).filter((t) => t.name === 'from-migration')).toHaveLength(1);
      } finally {
        await s.close();
      }
    }
    expect(await readFile(join(dir, name, 'migration.sql'), 'utf8')).toContain('from-migration');
  });

  it.runIf(databaseUrl)('two nodes starting at once on an empty schema both come up (advisory lock)', async () => {
    const ts = await track(makeTestStore());
    const schema = `${ts.options.pgSchema}_race`;
    cleanups.push(async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    });
    const both = await Promise.all([0, 1].map(() => makeStore({ ...ts.options, pgSchema: schema })));
    try {
      for (const s of both) expect(await s.tenants.getByName('default')).not.toBeNull();
    } finally {
      await Promise.all(both.map((s) => s.close()));
    }
  });
});
