/**
 * A real store (PGlite, or PostgreSQL in a fresh schema when DATABASE_URL is set), a real runtime
 * and an event bus around one or more executors, plus small helpers to register agents, build
 * tasks and wait for events. Used by test/integration/executor*.test.ts (the test-facing twin of server.ts, one layer down).
 */
import { randomBytes } from 'node:crypto';
import { makeEventBus } from '../../src/executor/events.js';
import { makeExecutor } from '../../src/executor/executor.js';
import type { EventBus, Executor, ExecutorOptions, Logger, TaskEvent } from '../../src/executor/types.js';
import { makeRuntime } from '../../src/runtime/index.js';
import type { Runtime } from '../../src/runtime/types.js';
import { DEFAULT_TENANT_ID, type NewTask, type Store, type TaskRow } from '../../src/store/types.js';
import { loadWat } from './fixtures.js';
import { makeTestStore, type TestStore } from './store.js';

export const tenantId = DEFAULT_TENANT_ID;
export const redisUrl = process.env.REDIS_URL || undefined;

/** A bus of its own: with Redis, channels under a random prefix so parallel test files stay apart. */
export function makeTestBus(prefix = `test-${randomBytes(4).toString('hex')}:`): EventBus {
  return makeEventBus({ redisUrl, channelPrefix: prefix });
}

/** Warnings and errors of the executor go to the test output (they are evidence when a test fails). */
export const testLogger: Logger = {
  debug() {},
  info() {},
  warn: (obj, msg) => console.warn('[executor warn]', msg, obj),
  error: (obj, msg) => console.error('[executor error]', msg, obj),
};

export interface Agent {
  name: string;
  agentId: string;
  agentVersionId: string;
  moduleDigest: string;
}

/** Collects TASK_EVENTS and lets a test wait for a condition over them. */
export function makeEventLog(bus: EventBus) {
  const events: TaskEvent[] = [];
  const waiters = new Set<() => void>();
  const off = bus.on('TASK_EVENTS', (batch) => {
    events.push(...batch);
    for (const w of [...waiters]) w();
  });
  return {
    events,
    off,
    of: (taskId: string) => events.filter((e) => e.taskId === taskId),
    statuses: (taskId: string) => events.filter((e) => e.taskId === taskId).map((e) => e.status),
    /** Resolves once `pred` holds over the events seen so far. */
    until(pred: (events: TaskEvent[]) => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
      if (pred(events)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        const check = () => {
          if (!pred(events)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
    },
    /** Resolves when the task reaches `status`. */
    status(taskId: string, status: TaskEvent['status'], timeoutMs?: number) {
      return this.until((es) => es.some((e) => e.taskId === taskId && e.status === status), timeoutMs, `${taskId} → ${status}`);
    },
  };
}
export type EventLog = ReturnType<typeof makeEventLog>;

export async function registerAgent(store: Store, name: string, bytes: Uint8Array): Promise<Agent> {
  const moduleDigest = await store.blobs.put(bytes);
  await store.modules.record(tenantId, moduleDigest, bytes.length);
  const { agent, version } = await store.agents.registerVersion({
    tenantId,
    name,
    moduleDigest,
    moduleSize: bytes.length,
    imports: [],
    exports: [{ name: '_start', kind: 'function' }],
    memoryInitialPages: 1,
    memoryMaximumPages: null,
    defaultLimits: {},
  });
  return { name, agentId: agent.id, agentVersionId: version.id, moduleDigest };
}

export function newTask(agent: Omit<Agent, 'name'>, over: Partial<NewTask> = {}): NewTask {
  return {
    tenantId,
    agentId: agent.agentId,
    agentVersionId: agent.agentVersionId,
    moduleDigest: agent.moduleDigest,
    priority: 0,
    stdin: new Uint8Array(),
    args: [],
    env: {},
    filesDigest: null,
    limits: { timeoutMs: 10_000, memoryBytes: 16 * 1024 * 1024, maxOutputBytes: 64 * 1024 },
    retryPolicy: { maxAttempts: 1, initialBackoffMs: 10, maxBackoffMs: 1_000, retryOn: [] },
    deterministic: null,
    idempotencyKey: null,
    runAt: new Date(),
    ...over,
  };
}

export interface Harness {
  testStore: TestStore;
  store: Store;
  runtime: Runtime;
  bus: EventBus;
  log: EventLog;
  executor: Executor;
  /** Registers test/fixtures/wat/NAME.wat as agent NAME (once per harness). */
  agent(name: string): Promise<Agent>;
  submit(tasks: NewTask[]): Promise<TaskRow[]>;
  close(): Promise<void>;
}

export async function makeHarness(
  over: Partial<ExecutorOptions> = {},
  opts: { start?: boolean; workers?: number } = {},
): Promise<Harness> {
  const testStore = await makeTestStore();
  const { store } = testStore;
  const runtime = makeRuntime({ workers: opts.workers ?? 2 });
  const bus = makeTestBus();
  const log = makeEventLog(bus);
  const executor = makeExecutor({
    store,
    runtime,
    bus,
    node: 'node-a',
    concurrency: 8,
    leaseMs: 5_000,
    pollMs: 500,
    logger: testLogger,
    ...over,
  });
  const agents = new Map<string, Promise<Agent>>();
  if (opts.start !== false) await executor.start();
  return {
    testStore,
    store,
    runtime,
    bus,
    log,
    executor,
    agent(name) {
      let a = agents.get(name);
      if (!a) agents.set(name, (a = loadWat(name).then((bytes) => registerAgent(store, name, bytes))));
      return a;
    },
    async submit(tasks) {
      return (await executor.submit(tasks)).map((r) => r.task);
    },
    async close() {
      await executor.stop(1_000);
      log.off();
      await runtime.close();
      await bus.close();
      await testStore.cleanup();
    },
  };
}

export const text = (b: Uint8Array) => new TextDecoder().decode(b);
