/**
 * GET /healthz: each dependency with its state, for an orchestrator that polls every second.
 *
 *   200 {"status":"ok", …}            everything answers
 *   200 {"status":"degraded", …}      pub/sub or blobs down: the node serves and executes, but
 *                                     cross-node events (pub/sub) or uploads and input files (blobs) fail
 *   503 {"status":"unavailable", …}   the database is down: nothing works; take the node out of rotation
 *
 * Each check is bounded by CHECK_TIMEOUT_MS, so the answer never takes longer than that. The
 * pub/sub state is the Redis link's own (no I/O); the database is pinged; the blob store is probed
 * (a directory access, or a cached HEAD bucket on S3).
 */
import type { RequestHandler } from 'express';
import type { Config } from '../config/index.js';
import type { EventBus } from '../executor/types.js';
import type { Store } from '../store/types.js';

export const CHECK_TIMEOUT_MS = 2000;

export type DependencyState = 'up' | 'down' | 'connecting';

export interface HealthReport {
  status: 'ok' | 'degraded' | 'unavailable';
  node: string;
  role: Config['role'];
  checks: {
    database: { state: DependencyState; kind: Store['kind']; latencyMs?: number; error?: string };
    pubsub: { state: DependencyState; kind: EventBus['kind']; since: string; error?: string; droppedPublishes: number };
    blobs: { state: DependencyState; kind: Store['blobs']['kind']; error?: string };
  };
}

export async function checkHealth({ config, store, bus }: { config: Pick<Config, 'nodeId' | 'role'>; store: Store; bus: EventBus }): Promise<HealthReport> {
  const [database, blobs] = await Promise.all([
    probe(() => store.ping()).then(({ state, ...r }) => ({ state, kind: store.kind, ...r })),
    probe(() => store.blobs.ping()).then(({ state, error }) => ({ state, kind: store.blobs.kind, ...(error !== undefined && { error }) })),
  ]);
  const ps = bus.health();
  const pubsub = {
    state: ps.state,
    kind: ps.kind,
    since: ps.since.toISOString(),
    ...(ps.error !== undefined && { error: ps.error }),
    droppedPublishes: ps.droppedPublishes,
  };
  const status = database.state !== 'up' ? 'unavailable' : pubsub.state !== 'up' || blobs.state !== 'up' ? 'degraded' : 'ok';
  return { status, node: config.nodeId, role: config.role, checks: { database, pubsub, blobs } };
}

/** 200 unless the database is down (503): a degraded node still serves and executes. */
export function healthHandler(deps: { config: Config; store: Store; bus: EventBus }): RequestHandler {
  return async (_req, res) => {
    const report = await checkHealth(deps);
    res.status(report.status === 'unavailable' ? 503 : 200).json(report);
  };
}

async function probe(check: () => Promise<void>): Promise<{ state: DependencyState; latencyMs?: number; error?: string }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { state: 'up', latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (err) {
    return { state: 'down', error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
