/**
 * Stores for tests, isolated per call: PGlite in a fresh temp DATA_DIR (a copy of a migrated
 * template, see pgliteTemplate), or — when DATABASE_URL is set — that PostgreSQL in a fresh schema
 * t_<random>, dropped in cleanup. Plus s3rver in-process.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DEFAULT_TENANT_ID, makeStore, type S3Options, type Store, type StoreOptions } from '../../src/store/index.js';
import { readMigrations } from '../../src/store/migrate.js';

export interface TestStore {
  store: Store;
  /** The options the store was made with: pass them to makeStore again to "restart" on the same data. */
  options: StoreOptions;
  /** Closes the store (if still open) and removes the data dir / drops the schema. */
  cleanup(): Promise<void>;
}

export const databaseUrl = process.env.DATABASE_URL || undefined;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export async function makeTestStore(extra: Partial<StoreOptions> = {}): Promise<TestStore> {
  const dataDir = await mkdtemp(join(tmpdir(), 'spindle-store-'));
  const pgSchema = databaseUrl ? `t_${randomBytes(6).toString('hex')}` : undefined;
  if (!(extra.databaseUrl ?? databaseUrl) && extra.migrationsDir === undefined && extra.dataDir === undefined) await cp(await pgliteTemplate(), dataDir, { recursive: true });
  const options: StoreOptions = { dataDir, databaseUrl, pgSchema, ...extra };
  const store = await makeStore(options);
  return {
    store,
    options,
    async cleanup() {
      await store.close();
      if (databaseUrl && pgSchema) await dropSchema(databaseUrl, pgSchema);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A migrated PGlite data directory that new test stores start from as a copy: a store made from
 * nothing runs initdb (in a child process) and every migration, 5-10 s on a 2-core machine, against
 * under a second to copy 40 MB and open it. One per set of migrations and PGlite version (the
 * directory's name is a hash of the migrations' names and checksums, as the store reads them, and
 * PGlite's package.json), shared by the test processes of a run: made beside its final
 * name and renamed into place, so a process that loses the race uses the winner's. Stores with
 * their own migrations (`migrationsDir`) and PostgreSQL ones start empty, as before.
 */
let template: Promise<string> | undefined;
function pgliteTemplate(): Promise<string> {
  template ??= (async () => {
    const hash = createHash('sha256').update(await readFile(join(ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json')));
    for (const m of await readMigrations()) hash.update(`${m.name} ${m.checksum}\n`);
    const root = join(tmpdir(), 'spindle-test-templates');
    const final = join(root, hash.digest('hex').slice(0, 16));
    if (existsSync(join(final, 'pglite', 'PG_VERSION'))) return final;
    await mkdir(root, { recursive: true });
    const making = await mkdtemp(join(root, 'making-'));
    await (await makeStore({ dataDir: making })).close();
    try {
      await rename(making, final);
    } catch (err) {
      await rm(making, { recursive: true, force: true });
      if (!existsSync(join(final, 'pglite', 'PG_VERSION'))) throw err;
    }
    return final;
  })();
  return template;
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}

/** s3rver on 127.0.0.1:<random port> over a temp dir; credentials S3RVER/S3RVER, path style. */
export async function makeS3rver(bucket = `b-${randomBytes(4).toString('hex')}`): Promise<{ s3: S3Options; close(): Promise<void> }> {
  const S3rver = createRequire(import.meta.url)('s3rver') as new (opts: object) => S3rverInstance;
  const directory = await mkdtemp(join(tmpdir(), 'spindle-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory });
  const { port } = await server.run();
  return {
    s3: { endPoint: '127.0.0.1', port, useSSL: false, accessKey: 'S3RVER', secretKey: 'S3RVER', bucket },
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * An agent version for store-level tests: a made-up module digest (`fill` × 64, no bytes in the
 * blob store), `_start` exported, in the default tenant.
 */
export async function registerStubAgent(store: Store, name: string, fill: string): Promise<{ agentId: string; agentVersionId: string; moduleDigest: string }> {
  const moduleDigest = fill.repeat(64);
  const { agent, version } = await store.agents.registerVersion({
    tenantId: DEFAULT_TENANT_ID,
    name,
    moduleDigest,
    moduleSize: 8,
    imports: [],
    exports: [{ name: '_start', kind: 'function' }],
    memoryInitialPages: 1,
    memoryMaximumPages: null,
    defaultLimits: {},
  });
  return { agentId: agent.id, agentVersionId: version.id, moduleDigest };
}
