/**
 * Prometheus metrics at /metrics (prom-client, one registry per server so several servers can
 * share a process in tests), named by Prometheus conventions: one `spindle_` prefix (the default
 * process metrics too: `spindle_process_cpu_seconds_total`), base units, `_total` counters.
 *
 * Each help text says whose figure it is. Node-local: runs (observed by wrapping the runtime the
 * executor gets), the pool, HTTP and GraphQL requests, WebSockets — aggregate with sum(). Cluster-
 * wide, the same on every node: task counts read from the database and the ends and retries
 * counted from the event bus — aggregate with max(), not sum().
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TERMINAL_STATUSES, type TaskStatus } from '../domain/index.js';
import type { EventBus, Executor, ExecutorObserver } from '../executor/types.js';
import type { StatsService } from '../services/index.js';
import type { Runtime } from '../runtime/types.js';

/** Open WebSockets and the operations running on them (server/graphql.ts). */
export interface WebSocketCounts {
  connections: number;
  subscriptions: number;
}

export interface MetricsSources {
  bus: EventBus;
  executor: Executor;
  runtime: Runtime;
  stats: StatsService;
  /** Absent on a node that serves no API (ROLE=worker). */
  webSockets?: () => WebSocketCounts;
}

export interface Metrics {
  registry: Registry;
  submitted(created: number): void;
  /** The retention sweeper's deletes on this node, by kind (tasks, attempts, blobs). */
  swept(kind: string, n: number): void;
  /** The runtime with every run observed (duration and outcome). */
  instrument(runtime: Runtime): Runtime;
  /** What the executor reports: queue waits and lease recoveries. */
  executor: ExecutorObserver;
  /** Express middleware: each HTTP request's duration by route, method and status code. */
  http: RequestHandler;
  /** What `http` records, for requests served without Express (graphql-http.ts). */
  observeHttp(path: string, method: string, status: number, start: number): void;
  /** Apollo plugin: each GraphQL request's duration by operation type and root field. */
  graphql: ApolloServerPlugin<object>;
  /** Starts the collectors that read live state; returns the stop function. */
  attach(sources: MetricsSources): () => void;
}

/** Waiting work: what a queue depth counts (RUNNING and the ends are in spindle_tasks). */
const WAITING: readonly TaskStatus[] = ['QUEUED', 'RETRYING'];
/** Routes as labels: a fixed set, whatever paths clients ask for. */
const ROUTES = ['/graphql', '/modules', '/healthz', '/metrics'];
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function makeMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'spindle_' });
  const submitted = new Counter({ name: 'spindle_tasks_submitted_total', help: 'Tasks accepted by this node (idempotent resubmits excluded).', registers: [registry] });
  const finished = new Counter({
    name: 'spindle_tasks_finished_total',
    help: 'Tasks that reached a terminal state, by status and last outcome (cluster-wide, from the event bus).',
    labelNames: ['status', 'outcome'],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'spindle_task_retries_total',
    help: 'Attempts that failed and were scheduled to run again (cluster-wide, from the event bus).',
    registers: [registry],
  });
  const sweptRows = new Counter({
    name: 'spindle_sweeper_deleted_total',
    help: 'What the retention sweeper of this node deleted, by kind: tasks, attempts, blobs, agents, modules (node-local; sum over nodes).',
    labelNames: ['kind'],
    registers: [registry],
  });
  for (const kind of ['tasks', 'attempts', 'blobs', 'agents', 'modules']) sweptRows.inc({ kind }, 0); // every series from the start
  const httpDuration = new Histogram({
    name: 'spindle_http_request_duration_seconds',
    help: "HTTP requests this node answered, by route (/graphql, /modules, /healthz, /metrics, / for the dashboard, 'other'), method and status code.",
    labelNames: ['route', 'method', 'code'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const graphqlDuration = new Histogram({
    name: 'spindle_graphql_request_duration_seconds',
    help: "GraphQL operations over HTTP on this node, by type (query, mutation; 'invalid' before one was resolved), root field ('multiple' for several) and result (ok, error).",
    labelNames: ['type', 'field', 'result'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const queueWait = new Histogram({
    name: 'spindle_queue_wait_seconds',
    help: 'From a task becoming due (its submit, or the end of its backoff or runAt) to a worker of this node starting it.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800],
    registers: [registry],
  });
  const recoveries = new Counter({
    name: 'spindle_lease_recoveries_total',
    help: "Tasks this node took over from nodes whose lease expired, by kind: requeued (only claimed there) or lost_attempt (running there: the attempt is recorded as lost).",
    labelNames: ['kind'],
    registers: [registry],
  });
  for (const kind of ['requeued', 'lost_attempt']) recoveries.inc({ kind }, 0); // both series exist from the start
  const runDuration = new Histogram({
    name: 'spindle_run_duration_seconds',
    help: 'Wall-clock time of one attempt on this node (instantiation to end), by outcome.',
    labelNames: ['outcome'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  let live: MetricsSources | null = null;
  new Gauge({
    name: 'spindle_pubsub_up',
    help: "1 while this node's pub/sub reaches Redis (always 1 in process), else 0: events of other nodes are missed, this node's are dropped.",
    registers: [registry],
    collect() {
      if (live) this.set(live.bus.health().state === 'up' ? 1 : 0);
    },
  });
  let droppedSeen = 0;
  new Counter({
    name: 'spindle_pubsub_dropped_publishes_total',
    help: 'Publishes this node dropped because Redis was unreachable (its subscribers got them; other nodes replay the task ends from the database).',
    registers: [registry],
    collect() {
      if (!live) return;
      const dropped = live.bus.health().droppedPublishes;
      if (dropped > droppedSeen) this.inc(dropped - droppedSeen);
      droppedSeen = dropped;
    },
  });
  // Both read the same counts: StatsService caches them up to 1 s, one query whatever the scrape rate.
  new Gauge({
    name: 'spindle_queue_depth',
    help: 'Tasks waiting to run, QUEUED or RETRYING, delayed ones included (cluster-wide, all tenants, from the database; cached up to 1 s).',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = live && (await live.stats.counts(null).catch(() => null));
      if (counts) for (const status of WAITING) this.set({ status }, counts[status] ?? 0);
    },
  });
  new Gauge({
    name: 'spindle_tasks',
    help: 'Tasks in the database by status, the ends included (cluster-wide, all tenants; cached up to 1 s).',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = live && (await live.stats.counts(null).catch(() => null));
      if (counts) for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'spindle_websocket_connections',
    help: 'Open GraphQL WebSocket connections on this node (after connection_init).',
    registers: [registry],
    collect() {
      if (live?.webSockets) this.set(live.webSockets().connections);
    },
  });
  new Gauge({
    name: 'spindle_websocket_subscriptions',
    help: 'Subscriptions running on the WebSockets of this node.',
    registers: [registry],
    collect() {
      if (live?.webSockets) this.set(live.webSockets().subscriptions);
    },
  });
  new Gauge({
    name: 'spindle_pool_workers',
    help: "This node's task workers.",
    registers: [registry],
    collect() {
      if (live) this.set(live.runtime.stats().workers);
    },
  });
  new Gauge({
    name: 'spindle_pool_busy',
    help: "This node's busy task workers.",
    registers: [registry],
    collect() {
      if (live) this.set(live.runtime.stats().busy);
    },
  });
  new Gauge({
    name: 'spindle_runs_in_flight',
    help: 'Tasks claimed by this node and not yet finished.',
    registers: [registry],
    collect() {
      if (live) this.set(live.executor.running());
    },
  });

  /** One HTTP request's duration, by route (a fixed set), method and status. */
  function observeHttp(path: string, method: string, status: number, start: number) {
    const route = ROUTES.find((r) => path === r || path.startsWith(`${r}/`)) ?? (method === 'GET' && status !== 404 ? '/' : 'other');
    httpDuration.observe({ route, method, code: String(status) }, (performance.now() - start) / 1000);
  }

  return {
    registry,
    submitted: (n) => submitted.inc(n),
    executor: {
      started: (waitMs) => queueWait.observe(Math.max(0, waitMs) / 1000),
      recovered: (kind, tasks) => recoveries.inc({ kind }, tasks),
    },
    swept: (kind, n) => sweptRows.inc({ kind }, n),
    instrument: (runtime) => ({
      ...runtime,
      inspect: (bytes) => runtime.inspect(bytes),
      prepare: (module) => runtime.prepare(module),
      stats: () => runtime.stats(),
      close: () => runtime.close(),
      async run(req, signal, onOutput, onStart) {
        const outcome = await runtime.run(req, signal, onOutput, onStart);
        runDuration.observe({ outcome: outcome.kind }, outcome.runMs / 1000);
        return outcome;
      },
    }),
    http(req, res, next) {
      const start = performance.now();
      const path = req.path; // read now: routers mounted on a path rewrite it on the way
      res.once('finish', () => observeHttp(path, req.method, res.statusCode, start));
      next();
    },
    observeHttp,
    graphql: {
      async requestDidStart() {
        const start = performance.now();
        let type = 'invalid';
        let field = 'none';
        return {
          async didResolveOperation({ operation }) {
            if (!operation) return;
            type = operation.operation;
            const fields = operation.selectionSet.selections;
            field = fields.length === 1 && fields[0]!.kind === 'Field' ? fields[0]!.name.value : 'multiple';
          },
          async willSendResponse({ response }) {
            const failed = response.body.kind === 'single' && !!response.body.singleResult.errors?.length;
            graphqlDuration.observe({ type, field, result: failed ? 'error' : 'ok' }, (performance.now() - start) / 1000);
          },
        };
      },
    },
    attach(sources) {
      live = sources;
      const off = sources.bus.on('TASK_EVENTS', (events) => {
        for (const e of events) {
          if (TERMINAL_STATUSES.has(e.status)) finished.inc({ status: e.status, outcome: e.outcome ?? 'none' });
          else if (e.status === 'RETRYING') retries.inc();
        }
      });
      return () => {
        off();
        live = null;
      };
    },
  };
}
