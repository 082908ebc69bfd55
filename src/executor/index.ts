/**
 * The executor: task lifecycle (claim → run → record → retry/backoff → recovery) on top of the
 * store and the runtime, and the event bus every node shares.
 *
 *   const bus = makeEventBus({ redisUrl })               // events.ts
 *   const executor = makeExecutor({ store, runtime, bus, node })   // executor.ts
 *   await executor.start() … await executor.stop(graceMs)
 *
 * Files: executor.ts (claim loop, runs, cancel, stop), finisher.ts (batched result writes),
 * inputs.ts (module bytes / input files / argv0 caches), retry.ts (the retry table and backoff),
 * results.ts (outcome → attempt row, row → event), stats.ts (cluster stats from NODE_STATS),
 * wakeup.ts (one timer for delayed work), files.ts (the files bundle format), options.ts.
 */
export { makeExecutor } from './executor.js';
export { makeEventBus, wireSerializer, type EventBusOptions } from './events.js';
export { taskEvent, attemptResult, expiredLeaseResult } from './results.js';
export { resolveOptions, type ResolvedExecutorOptions } from './options.js';
export { backoffMs, backoffCeilingMs, shouldRetry, nextState, retryKind, DEFAULT_RETRY_POLICY, BACKOFF_FACTOR } from './retry.js';
export { encodeFiles, decodeFiles } from './files.js';
export { LATENCY_BUCKETS_MS, STATS_WINDOW_S, quantile } from './stats.js';
export type * from './types.js';
