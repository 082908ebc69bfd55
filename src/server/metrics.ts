/**
 * Prometheus metrics at /metrics (prom-client, one registry per server so several servers can
 * share a process in tests). Runs are observed by wrapping the runtime the executor gets, so the
 * figures are this node's; finished tasks are counted from the event bus (the whole cluster's,
 * the same on every node: aggregate with max(), not sum()).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TERMINAL_STATUSES } from '../domain/index.js';
import type { EventBus, Executor } from '../executor/types.js';
import type { StatsService } from '../graphql/stats.service.js';
import type { Runtime } from '../runtime/types.js';

export interface Metrics {
  registry: Registry;
  submitted(created: number): void;
  /** The runtime with every run observed (duration and outcome). */
  instrument(runtime: Runtime): Runtime;
  /** Starts the collectors that read live state; returns the stop function. */
  attach(deps: { bus: EventBus; executor: Executor; runtime: Runtime; stats: StatsService }): () => void;
}

export function makeMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'spindle_process_' });
  const submitted = new Counter({ name: 'spindle_tasks_submitted_total', help: 'Tasks accepted by this node (idempotent resubmits excluded).', registers: [registry] });
  const finished = new Counter({
    name: 'spindle_tasks_finished_total',
    help: 'Tasks that reached a terminal state, by status and last outcome (cluster-wide, from the event bus).',
    labelNames: ['status', 'outcome'],
    registers: [registry],
  });
  const runDuration = new Histogram({
    name: 'spindle_run_duration_seconds',
    help: 'Wall-clock time of one attempt on this node (instantiation to end), by outcome.',
    labelNames: ['outcome'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  let live: { executor: Executor; runtime: Runtime; stats: StatsService } | null = null;
  new Gauge({
    name: 'spindle_queue_depth',
    help: 'Tasks by status in the database (all tenants; cached up to 1 s).',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      if (!live) return;
      const counts = await live.stats.counts(null).catch(() => null);
      if (counts) for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
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

  return {
    registry,
    submitted: (n) => submitted.inc(n),
    instrument: (runtime) => ({
      ...runtime,
      inspect: (bytes) => runtime.inspect(bytes),
      prepare: (module) => runtime.prepare(module),
      stats: () => runtime.stats(),
      close: () => runtime.close(),
      async run(req, signal, onOutput) {
        const outcome = await runtime.run(req, signal, onOutput);
        runDuration.observe({ outcome: outcome.kind }, outcome.runMs / 1000);
        return outcome;
      },
    }),
    attach(deps) {
      live = deps;
      const off = deps.bus.on('TASK_EVENTS', (events) => {
        for (const e of events) if (TERMINAL_STATUSES.has(e.status)) finished.inc({ status: e.status, outcome: e.outcome ?? 'none' });
      });
      return () => {
        off();
        live = null;
      };
    },
  };
}
