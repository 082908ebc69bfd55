/**
 * Per-tenant quotas. Each has a server default, its QUOTA_* option, which a system admin may
 * override per tenant (setTenantQuotas / createTenant, stored on the tenant row; null = the
 * default). The checks here run before anything is written. Every refusal is
 * LIMIT_EXCEEDED with `extensions.quota` (the option's name) and `extensions.limit` (the value in
 * force for this tenant, override or default).
 *
 * - QUOTA_QUEUED_TASKS / QUOTA_ACTIVE_TASKS: the tenant's unfinished tasks (StatsService.active:
 *   the active statuses only, cached ≤ 1 s), plus the tasks being submitted. A burst inside that
 *   second can pass the quota by at most what the submit rate lets through.
 * - QUOTA_RUNNING_TASKS: not checked here but where tasks are claimed (src/store/capped-claim.ts):
 *   at most that many of the tenant's tasks RUNNING at once on the whole cluster, counting those a
 *   node has claimed for its workers (0 = no cap); the rest wait queued and other tenants' tasks
 *   are claimed meanwhile.
 * - QUOTA_SUBMIT_RATE / QUOTA_SUBMIT_BURST: a token bucket per tenant on this node (one token per
 *   task, a batch takes all of its tokens or none); N nodes let N times the rate through.
 * - QUOTA_STORED_BYTES: the modules a tenant stored (a module shared by two tenants counts for both).
 * - QUOTA_TASK_BYTES: what the tenant's attempts store (stdout, stderr, output files), a figure the
 *   database keeps per tenant as attempts are written and deleted (store/retention.ts), read here
 *   cached ≤ 1 s (TASK_BYTES_CACHE_MS). A submit while the tenant is at it is refused; tasks
 *   already queued still run, so it is passed by at most what they write.
 * - MAX_MODULE_BYTES bounds each module (checked where the bytes arrive). It is server-wide, not
 *   per tenant: it bounds what one request costs the node, whoever sends it.
 *
 * A tenant's overrides are read through a cache (TENANT_CACHE_MS): setTenantQuotas drops this
 * node's entry, so a change applies here at once and on other nodes within TENANT_CACHE_MS.
 */
import type { Config } from '../config/index.js';
import { optionRange, QUOTA_OPTIONS } from '../config/index.js';
import { badInput, limitExceeded, NO_OVERRIDES, TENANT_QUOTAS, type QuotaOverrides, type QuotaValues, type TenantQuota } from '../domain/index.js';
import type { Store } from '../store/index.js';
import type { StatsService } from './stats.service.js';

export interface Quotas {
  /** Before inserting `count` tasks for the tenant. */
  checkSubmit(tenantId: string, count: number): Promise<void>;
  /** Before recording a module the tenant does not hold yet (`size` bytes). */
  checkStore(tenantId: string, digest: string | null, size: number): Promise<void>;
  /** Drops the tenant's cached overrides (after setTenantQuotas on this node). */
  forget(tenantId: string): void;
}

/** The quotas in force for a tenant: its overrides over the server defaults. */
export function effectiveQuotas(overrides: QuotaOverrides, defaults: QuotaValues): QuotaValues {
  return Object.fromEntries(TENANT_QUOTAS.map((q) => [q, overrides[q] ?? defaults[q]])) as QuotaValues;
}

/** Overrides as a caller sends them: a value sets one, null clears it, an absent one stays. */
export type QuotaOverridesParams = { [Q in TenantQuota]?: number | null };

/** The overrides the input sets or clears (absent fields left out), each checked against its option's range. */
export function checkQuotaOverrides(field: string, input: QuotaOverridesParams): Partial<QuotaOverrides> {
  const out: Partial<QuotaOverrides> = {};
  for (const q of TENANT_QUOTAS) {
    const value = input[q];
    if (value === undefined) continue;
    if (value !== null) {
      const option = QUOTA_OPTIONS[q];
      const { min, max } = optionRange(option);
      if (!Number.isInteger(value) || value < min || value > max) {
        throw badInput(`${field}.${q}`, `must be an integer between ${min} and ${max} (the range of ${option}), or null for the server default`, { min, max, quota: option });
      }
    }
    out[q] = value;
  }
  return out;
}

/** How long a tenant's stored task bytes are trusted without reading them again. */
export const TASK_BYTES_CACHE_MS = 1_000;

/** How long a tenant's overrides are trusted without reading the row again (bounds the delay on other nodes). */
export const TENANT_CACHE_MS = 5_000;
const TENANT_CACHE_MAX = 10_000;
const IDLE_BUCKET_MS = 10 * 60_000;

interface Bucket {
  tokens: number;
  at: number;
  rate: number;
  burst: number;
}

export function makeQuotas(deps: { config: Config; store: Store; stats: StatsService; now?: () => number }): Quotas {
  const defaults = deps.config.quotas;
  const now = deps.now ?? Date.now;
  const buckets = new Map<string, Bucket>();
  const tenants = new Map<string, { at: number; overrides: Promise<QuotaOverrides> }>();
  const taskBytes = new Map<string, { at: number; bytes: Promise<number> }>();
  let lastSweep = now();

  /** The tenant's overrides, cached; a failed read is not kept (the next caller tries again). */
  const overridesOf = (tenantId: string): Promise<QuotaOverrides> => {
    const t = now();
    const hit = tenants.get(tenantId);
    if (hit && t - hit.at < TENANT_CACHE_MS) return hit.overrides;
    if (tenants.size >= TENANT_CACHE_MAX) tenants.clear();
    const entry = { at: t, overrides: deps.store.tenants.get(tenantId).then((row) => row?.quotas ?? NO_OVERRIDES) };
    entry.overrides.catch(() => tenants.get(tenantId) === entry && tenants.delete(tenantId));
    tenants.set(tenantId, entry);
    return entry.overrides;
  };

  /** The tenant's stored task bytes, cached like the overrides (a failed read is not kept). */
  const taskBytesOf = (tenantId: string): Promise<number> => {
    const t = now();
    const hit = taskBytes.get(tenantId);
    if (hit && t - hit.at < TASK_BYTES_CACHE_MS) return hit.bytes;
    if (taskBytes.size >= TENANT_CACHE_MAX) taskBytes.clear();
    const entry = { at: t, bytes: deps.store.retention.taskBytes(tenantId) };
    entry.bytes.catch(() => taskBytes.get(tenantId) === entry && taskBytes.delete(tenantId));
    taskBytes.set(tenantId, entry);
    return entry.bytes;
  };

  /** The value in force and how to name it in a message. */
  const quota = async (tenantId: string, q: TenantQuota) => {
    const override = (await overridesOf(tenantId))[q];
    const name = QUOTA_OPTIONS[q];
    return { limit: override ?? defaults[q], name, label: override === null ? name : `${name}, set for this tenant` };
  };

  const take = (tenantId: string, count: number, rate: number, burst: number, label: { rate: string; burst: string }) => {
    const t = now();
    if (t - lastSweep > IDLE_BUCKET_MS) {
      // A full bucket is the same as none: drop buckets that refilled, so tenants cost no memory.
      for (const [id, b] of buckets) if (b.tokens + ((t - b.at) / 1000) * b.rate >= b.burst) buckets.delete(id);
      lastSweep = t;
    }
    const b = buckets.get(tenantId) ?? { tokens: burst, at: t, rate, burst };
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * rate);
    Object.assign(b, { at: t, rate, burst });
    buckets.set(tenantId, b);
    if (count > burst) {
      throw limitExceeded('QUOTA_SUBMIT_BURST', burst, `a batch of ${count} tasks is larger than the submit burst quota of ${burst} tasks (${label.burst}); send smaller batches`);
    }
    if (b.tokens < count) {
      const waitMs = Math.ceil(((count - b.tokens) / rate) * 1000);
      const message = `submit rate quota exceeded: ${rate} tasks per second (${label.rate}, burst ${burst}); retry in ${waitMs} ms`;
      throw withRetryAfter(limitExceeded('QUOTA_SUBMIT_RATE', rate, message), waitMs);
    }
    b.tokens -= count;
  };

  return {
    async checkSubmit(tenantId, count) {
      const [queued, active, rate, burst, bytesQuota, { waiting, running }, bytes] = await Promise.all([
        quota(tenantId, 'queuedTasks'),
        quota(tenantId, 'activeTasks'),
        quota(tenantId, 'submitRate'),
        quota(tenantId, 'submitBurst'),
        quota(tenantId, 'taskBytes'),
        deps.stats.active(tenantId),
        taskBytesOf(tenantId),
      ]);
      if (bytes >= bytesQuota.limit) {
        throw limitExceeded(bytesQuota.name, bytesQuota.limit, `stored task bytes quota reached: ${bytes} of ${bytesQuota.limit} bytes (${bytesQuota.label}); wait for retention to delete old tasks`);
      }
      const unfinished = waiting + running;
      if (waiting + count > queued.limit) {
        throw limitExceeded(queued.name, queued.limit, `queued tasks quota exceeded: ${waiting} waiting + ${count} new > ${queued.limit} (${queued.label})`);
      }
      if (unfinished + count > active.limit) {
        throw limitExceeded(active.name, active.limit, `active tasks quota exceeded: ${unfinished} unfinished + ${count} new > ${active.limit} (${active.label})`);
      }
      take(tenantId, count, rate.limit, burst.limit, { rate: rate.label, burst: burst.label });
    },
    async checkStore(tenantId, digest, size) {
      if (digest && (await deps.store.modules.get(tenantId, digest))) return; // already counted
      const [q, stored] = await Promise.all([quota(tenantId, 'storedBytes'), deps.store.modules.storedBytes(tenantId)]);
      if (stored + size > q.limit) {
        throw limitExceeded(q.name, q.limit, `stored module bytes quota exceeded: ${stored} stored + ${size} new > ${q.limit} bytes (${q.label})`);
      }
    },
    forget(tenantId) {
      tenants.delete(tenantId);
    },
  };
}

function withRetryAfter<E extends { details: Record<string, unknown> }>(err: E, ms: number): E {
  err.details.retryAfterMs = ms;
  return err;
}
