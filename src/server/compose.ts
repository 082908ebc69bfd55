/**
 * The composition of one Spindle node, shared by main.ts and the integration tests:
 * config → store → runtime → bus → executor → services → server. ROLE=api builds a one-worker
 * runtime (for module inspection) and never starts the executor; ROLE=worker serves only /healthz
 * and /metrics.
 */
import type { Config } from '../config/index.js';
import { makeEventBus } from '../executor/events.js';
import { finishedEvents } from '../executor/replay.js';
import { makeExecutor } from '../executor/executor.js';
import { makeSweeper, type Sweeper } from '../executor/sweeper.js';
import type { EventBus, Executor } from '../executor/types.js';
import { makeRuntime } from '../runtime/index.js';
import type { Runtime } from '../runtime/types.js';
import { makeServices, type Services } from '../services/index.js';
import { bootstrapAdminKey } from '../services/key.service.js';
import { makeStore, type Store } from '../store/index.js';
import { makeServer, type SpindleServer } from './index.js';
import { makeLogger, type Logger } from './logger.js';
import { makeMetrics } from './metrics.js';
import { startTracing } from './tracing.js';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';

/** How long start-up waits for Redis before going on without it (the link keeps trying). */
const BUS_CONNECT_WAIT_MS = 3_000;

export interface Spindle {
  config: Config;
  logger: Logger;
  store: Store;
  runtime: Runtime;
  bus: EventBus;
  executor: Executor;
  /** Retention and blob GC (src/executor/sweeper.ts): started with the executor, stopped before it. */
  sweeper: Sweeper;
  /** The use cases, as the API runs them (main.ts registers the demo agent through them). */
  services: Services;
  server: SpindleServer;
  /** The admin key generated on this start (first start with AUTH=on), to print once; else null. */
  generatedAdminKey: string | null;
  urls: { url: string; graphqlUrl: string; wsUrl: string; metricsUrl: string };
  /**
   * graceful (default): stop accepting, let running tasks finish for SHUTDOWN_GRACE_MS and hand
   * the rest back to the queue, then close everything. Not graceful: a simulated crash — the store
   * is closed under the executor, nothing is released, leases expire and other nodes recover.
   */
  stop(options?: { graceful?: boolean }): Promise<void>;
}

export interface ComposeOptions {
  logger?: Logger;
  /** An open store to use instead of makeStore (tests). It is closed by stop() like an own one. */
  store?: Store;
  dashboardDir?: string;
  /** Tests: traces on, into this processor (e.g. an InMemorySpanExporter's) instead of the configured exporter. */
  spanProcessor?: SpanProcessor;
}

export async function startSpindle(config: Config, options: ComposeOptions = {}): Promise<Spindle> {
  const logger = options.logger ?? makeLogger(config);
  const store =
    options.store ??
    (await makeStore({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      s3: config.s3,
      node: config.nodeId,
      apiStatementTimeoutMs: config.apiStatementTimeoutMs,
      onError: (err) => logger.warn({ err }, 'store: background error'),
    }));
  let generatedAdminKey: string | null = null;
  if (config.role !== 'worker') {
    const boot = await bootstrapAdminKey(store, config.auth).catch(async (err: unknown) => {
      await store.close();
      throw err;
    });
    generatedAdminKey = boot.generated;
    if (boot.revokedAdminKey) logger.warn('SPINDLE_ADMIN_KEY names a revoked key: it is refused');
  }
  const metrics = makeMetrics();
  const tracing = await startTracing(config, options.spanProcessor);
  const tracer = tracing?.tracer;
  const runtime = makeRuntime({
    workers: config.role === 'api' ? 1 : config.workers,
    maxTableElements: config.maxTableElements,
    buildConcurrency: config.build.concurrency,
    buildTimeoutMs: config.build.timeoutMs,
  });
  const bus = makeEventBus({
    redisUrl: config.redisUrl,
    channelPrefix: config.redisPrefix,
    name: config.nodeId,
    logger: logger.child({ component: 'pubsub' }),
    onListenerError: (err, topic) => logger.error({ err, topic }, 'event bus: a listener threw'),
    replay: finishedEvents(store.tasks),
  });
  // Redis is optional at run time, so start-up does not wait for it long; but a node that can
  // reach it should not drop its first events for the want of a few ms of connecting.
  await bus.whenUp(BUS_CONNECT_WAIT_MS);
  const executor = makeExecutor({
    store,
    runtime: metrics.instrument(runtime),
    bus,
    node: config.nodeId,
    leaseMs: config.leaseMs,
    runningTasksCap: config.quotas.runningTasks,
    logger: logger.child({ component: 'executor' }),
    observer: metrics.executor,
    tracer,
  });
  const { retention } = config;
  const sweeper = makeSweeper({
    store,
    retention: { SUCCEEDED: retention.succeeded, FAILED: retention.failed, CANCELLED: retention.cancelled },
    intervalMs: retention.sweepIntervalMs,
    batch: retention.sweepBatch,
    blobGraceMs: retention.blobGcGraceMs,
    logger: logger.child({ component: 'sweeper' }),
    onDeleted: metrics.swept,
    onTasksDeleted: (ids) => bus.pubsub.publish('TASK_DELETED', ids),
  });
  const services = makeServices({
    config, store, runtime, executor, logger, onSubmitted: metrics.submitted, traced: tracing !== null,
    onBuildUpdated: (build) => bus.pubsub.publish('BUILD_UPDATED', build.id, build),
  });
  const server = await makeServer({ config, services, store, runtime, executor, bus, logger, metrics, tracer, dashboardDir: options.dashboardDir });
  if (config.role !== 'api') {
    await executor.start();
    sweeper.start();
  }
  const urls = await server.listen();

  let stopping: Promise<void> | null = null;
  const stop = ({ graceful = true } = {}) =>
    (stopping ??= (async () => {
      if (graceful) {
        await server.close();
        await sweeper.stop();
        await executor.stop(config.shutdownGraceMs);
        await runtime.close();
        await store.close();
        await bus.close();
        await tracing?.shutdown();
        return;
      }
      // A crash, as far as the data can tell: no release, no result writes, no goodbye. The
      // executor winds down against a closed store (its writes fail, nothing is published); the
      // bus closes only after it, so its last timers never publish into a closed connection.
      await store.close();
      void sweeper.stop();
      const executorDown = executor.stop(0).catch(() => {});
      await Promise.allSettled([server.close(), runtime.close()]);
      void executorDown.then(() => bus.close()).catch(() => {});
      void tracing?.shutdown().catch(() => {});
    })());

  return { config, logger, store, runtime, bus, executor, sweeper, services, server, generatedAdminKey, urls, stop };
}
