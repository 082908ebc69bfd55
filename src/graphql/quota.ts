/**
 * Per-tenant quotas, checked at the edge before anything is written. Every refusal is
 * LIMIT_EXCEEDED with `extensions.quota` (the config variable) and `extensions.limit`.
 *
 * - QUOTA_QUEUED_TASKS / QUOTA_ACTIVE_TASKS: the tenant's unfinished tasks (StatsService.active:
 *   the active statuses only, cached ≤ 1 s), plus the tasks being submitted. A burst inside that
 *   second can pass the quota by at most what the submit rate lets through. Concurrent RUNNING
 *   tasks are bounded only through QUOTA_ACTIVE_TASKS at submit: the executor claims without a
 *   per-tenant cap.
 * - QUOTA_SUBMIT_RATE / QUOTA_SUBMIT_BURST: a token bucket per tenant on this node (one token per
 *   task, a batch takes all of its tokens or none); N nodes let N times the rate through.
 * - QUOTA_STORED_BYTES: the modules a tenant stored (a module shared by two tenants counts for both).
 * - MAX_MODULE_BYTES bounds each module (checked where the bytes arrive).
 */
import type { Config } from '../config/index.js';
import { limitExceeded } from '../domain/index.js';
import type { Store } from '../store/types.js';
import type { StatsService } from './stats.service.js';

export interface Quotas {
  /** Before inserting `count` tasks for the tenant. */
  checkSubmit(tenantId: string, count: number): Promise<void>;
  /** Before recording a module the tenant does not hold yet (`size` bytes). */
  checkStore(tenantId: string, digest: string | null, size: number): Promise<void>;
}

const IDLE_BUCKET_MS = 10 * 60_000;

export function makeQuotas(deps: { config: Config; store: Store; stats: StatsService; now?: () => number }): Quotas {
  const q = deps.config.quotas;
  const now = deps.now ?? Date.now;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();

  const take = (tenantId: string, count: number) => {
    const t = now();
    if (t - lastSweep > IDLE_BUCKET_MS) {
      // A full bucket is the same as none: drop buckets that refilled, so tenants cost no memory.
      for (const [id, b] of buckets) if (b.tokens + ((t - b.at) / 1000) * q.submitRate >= q.submitBurst) buckets.delete(id);
      lastSweep = t;
    }
    const b = buckets.get(tenantId) ?? { tokens: q.submitBurst, at: t };
    b.tokens = Math.min(q.submitBurst, b.tokens + ((t - b.at) / 1000) * q.submitRate);
    b.at = t;
    buckets.set(tenantId, b);
    if (count > q.submitBurst) {
      throw limitExceeded('QUOTA_SUBMIT_BURST', q.submitBurst, `a batch of ${count} tasks is larger than the submit burst quota of ${q.submitBurst} tasks (QUOTA_SUBMIT_BURST); send smaller batches`);
    }
    if (b.tokens < count) {
      const waitMs = Math.ceil(((count - b.tokens) / q.submitRate) * 1000);
      const message = `submit rate quota exceeded: ${q.submitRate} tasks per second (QUOTA_SUBMIT_RATE, burst ${q.submitBurst}); retry in ${waitMs} ms`;
      throw withRetryAfter(limitExceeded('QUOTA_SUBMIT_RATE', q.submitRate, message), waitMs);
    }
    b.tokens -= count;
  };

  return {
    async checkSubmit(tenantId, count) {
      const { waiting, running } = await deps.stats.active(tenantId);
      const unfinished = waiting + running;
      if (waiting + count > q.queuedTasks) {
        throw limitExceeded('QUOTA_QUEUED_TASKS', q.queuedTasks, `queued tasks quota exceeded: ${waiting} waiting + ${count} new > ${q.queuedTasks} (QUOTA_QUEUED_TASKS)`);
      }
      if (unfinished + count > q.activeTasks) {
        throw limitExceeded('QUOTA_ACTIVE_TASKS', q.activeTasks, `active tasks quota exceeded: ${unfinished} unfinished + ${count} new > ${q.activeTasks} (QUOTA_ACTIVE_TASKS)`);
      }
      take(tenantId, count);
    },
    async checkStore(tenantId, digest, size) {
      if (digest && (await deps.store.modules.get(tenantId, digest))) return; // already counted
      const stored = await deps.store.modules.storedBytes(tenantId);
      if (stored + size > q.storedBytes) {
        throw limitExceeded('QUOTA_STORED_BYTES', q.storedBytes, `stored module bytes quota exceeded: ${stored} stored + ${size} new > ${q.storedBytes} bytes (QUOTA_STORED_BYTES)`);
      }
    },
  };
}

function withRetryAfter<E extends { details: Record<string, unknown> }>(err: E, ms: number): E {
  err.details.retryAfterMs = ms;
  return err;
}
