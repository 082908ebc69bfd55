/**
 * ExecutorOptions → ResolvedExecutorOptions: checked once, every default filled in (STYLE §6).
 * Defaults are documented on ExecutorOptions in ./types.ts.
 */
import type { Tracer } from '@opentelemetry/api';
import type { ExecutorObserver, ExecutorOptions, Logger } from './types.js';

export type ResolvedExecutorOptions = Required<Omit<ExecutorOptions, 'logger' | 'tracer'>> & { logger: Logger; workers: number; tracer: Tracer | null };

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const POSITIVE_INTEGERS = [
  'concurrency',
  'claimBatch',
  'leaseMs',
  'heartbeatMs',
  'pollMs',
  'recoverMs',
  'finishBatchMax',
  'writeParallel',
] as const;

const NON_NEGATIVE = ['finishBatchMs', 'settleOnInsertMs'] as const;

export function resolveOptions(o: ExecutorOptions): ResolvedExecutorOptions {
  for (const name of POSITIVE_INTEGERS) {
    const v = o[name];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
      throw new RangeError(`executor option ${name} must be a positive integer (got ${String(v)})`);
    }
  }
  for (const name of NON_NEGATIVE) {
    const v = o[name];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) {
      throw new RangeError(`executor option ${name} must be a non-negative number (got ${v})`);
    }
  }
  if (o.runningTasksCap !== undefined && !(Number.isInteger(o.runningTasksCap) && o.runningTasksCap >= 0)) {
    throw new RangeError(`executor option runningTasksCap must be a non-negative integer (got ${o.runningTasksCap})`);
  }
  if (typeof o.node !== 'string' || o.node.length === 0) throw new RangeError('executor option node must be a non-empty string');
  const leaseMs = o.leaseMs ?? 30_000;
  // Three missed beats before the lease runs out: one slow query must not lose a task.
  if (o.heartbeatMs !== undefined && o.heartbeatMs * 3 >= leaseMs) {
    throw new RangeError(`executor option heartbeatMs must be below leaseMs / 3 = ${Math.floor(leaseMs / 3)} (got ${o.heartbeatMs})`);
  }
  const workers = Math.max(1, o.runtime.stats().workers);
  const concurrency = o.concurrency ?? workers * 128;
  return Object.freeze({
    store: o.store,
    runtime: o.runtime,
    bus: o.bus,
    node: o.node,
    workers,
    concurrency,
    claimBatch: o.claimBatch ?? concurrency,
    leaseMs,
    heartbeatMs: o.heartbeatMs ?? Math.floor(leaseMs / 4),
    pollMs: o.pollMs ?? 1_000,
    recoverMs: o.recoverMs ?? Math.max(100, Math.floor(leaseMs / 2)),
    finishBatchMs: o.finishBatchMs ?? 0,
    finishBatchMax: o.finishBatchMax ?? 500,
    claimOnInsert: o.claimOnInsert ?? true,
    runningTasksCap: o.runningTasksCap ?? 0,
    settleOnInsertMs: o.settleOnInsertMs ?? 2,
    writeParallel: o.writeParallel ?? (o.store.kind === 'postgres' ? 2 : 1),
    random: o.random ?? Math.random,
    logger: o.logger ?? silent,
    observer: o.observer ?? unobserved,
    tracer: o.tracer ?? null,
  });
}

const unobserved: ExecutorObserver = { started() {}, recovered() {} };
