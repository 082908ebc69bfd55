/**
 * The composition of one Spindle node, shared by main.ts and the integration tests:
 * config → store → runtime → bus → executor → server. ROLE=api builds a one-worker runtime (for
 * module inspection) and never starts the executor; ROLE=worker serves only /healthz and /metrics.
 */
import type { Config } from '../config/index.js';
import { makeEventBus } from '../executor/events.js';
import { makeExecutor } from '../executor/executor.js';
import { bootstrapAdminKey } from '../graphql/auth.js';
import type { EventBus, Executor } from '../executor/types.js';
import { makeRuntime } from '../runtime/index.js';
import type { Runtime } from '../runtime/types.js';
import { makeStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { makeServer, type SpindleServer } from './index.js';
import { makeLogger, type Logger } from './logger.js';
import { makeMetrics } from './metrics.js';

export interface Spindle {
  config: Config;
  logger: Logger;
  store: Store;
  runtime: Runtime;
  bus: EventBus;
  executor: Executor;
  server: SpindleServer;
  /** The admin key generated on this start (first start with AUTH=on), to print once; else null. */
  generatedAdminKey: string | null;
  urls: { url: string; graphqlUrl: string; wsUrl: string };
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
  const runtime = makeRuntime({ workers: config.role === 'api' ? 1 : config.workers });
  const bus = makeEventBus({ redisUrl: config.redisUrl, onListenerError: (err, topic) => logger.error({ err, topic }, 'event bus: a listener threw') });
  const executor = makeExecutor({
    store,
    runtime: metrics.instrument(runtime),
    bus,
    node: config.nodeId,
    leaseMs: config.leaseMs,
    runningTasksCap: config.quotas.runningTasks,
    logger: logger.child({ component: 'executor' }),
  });
  const server = await makeServer({ config, store, runtime, executor, bus, logger, metrics, dashboardDir: options.dashboardDir });
  if (config.role !== 'api') await executor.start();
  const urls = await server.listen();

  let stopping: Promise<void> | null = null;
  const stop = ({ graceful = true } = {}) =>
    (stopping ??= (async () => {
      if (graceful) {
        await server.close();
        await executor.stop(config.shutdownGraceMs);
        await runtime.close();
        await store.close();
        await bus.close();
        return;
      }
      // A crash, as far as the data can tell: no release, no result writes, no goodbye. The
      // executor winds down against a closed store (its writes fail, nothing is published); the
      // bus closes only after it, so its last timers never publish into a closed connection.
      await store.close();
      const executorDown = executor.stop(0).catch(() => {});
      await Promise.allSettled([server.close(), runtime.close()]);
      void executorDown.then(() => bus.close()).catch(() => {});
    })());

  return { config, logger, store, runtime, bus, executor, server, generatedAdminKey, urls, stop };
}
