/**
 * Stores for tests, isolated per call: PGlite in a fresh temp DATA_DIR, or — when DATABASE_URL is
 * set — that PostgreSQL in a fresh schema t_<random>, dropped in cleanup. Plus s3rver in-process.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DEFAULT_TENANT_ID, makeStore, type S3Options, type Store, type StoreOptions } from '../../src/store/index.js';

export interface TestStore {
  store: Store;
  /** The options the store was made with: pass them to makeStore again to "restart" on the same data. */
  options: StoreOptions;
  /** Closes the store (if still open) and removes the data dir / drops the schema. */
  cleanup(): Promise<void>;
}

export const databaseUrl = process.env.DATABASE_URL || undefined;

export async function makeTestStore(extra: Partial<StoreOptions> = {}): Promise<TestStore> {
  const dataDir = await mkdtemp(join(tmpdir(), 'spindle-store-'));
  const pgSchema = databaseUrl ? `t_${randomBytes(6).toString('hex')}` : undefined;
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
