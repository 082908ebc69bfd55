/**
 * makeStore: the database (PGlite by default, PostgreSQL with a URL), migrated at start-up, the
 * repositories over it, and the blob store (local directory by default, S3/MinIO when configured).
 *
 * The store's public face: outside src/store, code imports this file (or, for types only,
 * types.ts, which it re-exports) and nothing else of the store. What it offers besides makeStore:
 * the repository interfaces and rows (types.ts), one request's view (`forRequest`), what a failed
 * call means (`storeErrorKind`), time-ordered ids (`uuidv7`) and the files bundle format
 * (`encodeFiles`/`decodeFiles`, files.ts).
 */
import { join } from 'node:path';
import { makeApiKeyRepository, makeTenantRepository } from './accounts.js';
import { makeAgentRepository } from './agents.js';
import { makeFsBlobStore } from './blobs-fs.js';
import { makeRunningCapsCache } from './caps.js';
import type { S3Options } from './blobs-s3.js';
import { openDatabase } from './db.js';
import { makeAgentBuildRepository, makeBuildRepository } from './builds.js';
import { makeModuleRepository } from './modules.js';
import { makeRetentionRepository } from './retention.js';
import { makeTaskRepository } from './tasks.js';
import type { Store } from './types.js';

export type { S3Options } from './blobs-s3.js';
export * from './types.js';
export { forRequest, READS_PER_REQUEST } from './per-request.js';
export { storeErrorKind, type StoreErrorKind } from './errors.js';
export { uuidv7 } from './ids.js';
export { decodeFiles, encodeFiles } from './files.js';
export { cursorValue } from './task-order.js';

export interface StoreOptions {
  /** PostgreSQL URL; unset → PGlite in `<dataDir>/pglite`. */
  databaseUrl?: string;
  /** Holds PGlite's files and (without `s3`) the blobs in `<dataDir>/blobs`. */
  dataDir: string;
  /** PostgreSQL schema for every table (default `public`); tests use one per file. */
  pgSchema?: string;
  /** Blobs in S3/MinIO instead of `<dataDir>/blobs`. */
  s3?: S3Options;
  /** This node's name (for logs; leases take the node explicitly). */
  node?: string;
  /** PostgreSQL: connections for API statements (default 8); the executor and submits have pools of their own. */
  poolSize?: number;
  /** PostgreSQL: statement_timeout of API statements, ms (0 = none, the default here). PGlite ignores it. */
  apiStatementTimeoutMs?: number;
  /** Migrations directory (default: prisma/migrations of this package). */
  migrationsDir?: string;
  /** Non-fatal background errors (idle pool connections, the LISTEN connection); default: ignored. */
  onError?: (err: Error) => void;
}

export async function makeStore(opts: StoreOptions): Promise<Store> {
  // Loaded only when asked for: the S3 client is ~14 MiB of a node's memory.
  const s3 = opts.s3 ? await (await import('./blobs-s3.js')).makeS3BlobStore(opts.s3) : null;
  const blobs = s3 ?? (await makeFsBlobStore(join(opts.dataDir, 'blobs')));
  const db = await openDatabase(opts).catch((err) => {
    s3?.close();
    throw err;
  });
  const { prisma, sql, apiQuery, notifier } = db;
  const caps = makeRunningCapsCache(sql);
  let closing: Promise<void> | null = null;
  return {
    kind: db.kind,
    agents: makeAgentRepository(prisma, sql, caps),
    tasks: makeTaskRepository(prisma, sql, apiQuery, caps, opts.onError),
    tenants: makeTenantRepository(prisma, caps),
    apiKeys: makeApiKeyRepository(prisma),
    modules: makeModuleRepository(prisma),
    builds: makeBuildRepository(prisma),
    agentBuilds: makeAgentBuildRepository(prisma),
    blobs,
    notifyQueued: () => notifier.notify(),
    onQueued: (listener) => notifier.on(listener),
    ping: () => db.ping(),
    close: () =>
      (closing ??= (async () => {
        s3?.close();
        await db.close();
      })()),
    retention: makeRetentionRepository(sql, db.kind),
  };
}
