/**
 * Cluster statistics without a database query: each node counts the tasks IT finishes per second
 * (and their queued → finished latency in a log-spaced histogram), publishes one NODE_STATS
 * summary per second, and every node folds every summary into a 300-slot ring. `stats()` then
 * answers for the whole cluster from memory.
 */
import type { ClusterStats, NodeSecondSummary } from './types.js';

/**
 * Upper bounds (ms) of the latency histogram buckets: six per decade (×1.468) from 0.1 ms to
 * 10^7 ms (~2.8 h); a last implicit bucket holds everything above. Log spacing keeps the relative
 * error of an interpolated percentile about constant (< ±20 %) from sub-millisecond to hours.
 */
export const LATENCY_BUCKETS_MS: readonly number[] = Object.freeze(
  Array.from({ length: 49 }, (_, k) => Number((10 ** (k / 6 - 1)).toPrecision(3))),
);

/** How many seconds of history `stats()` covers. */
export const STATS_WINDOW_S = 300;
/** throughputPerSec averages this many complete seconds. */
const THROUGHPUT_WINDOW_S = 10;
/** Latency percentiles cover this many seconds. */
const LATENCY_WINDOW_S = 60;
/** A node whose last summary is older than this no longer counts towards workers. */
const NODE_TTL_S = 5;

/** Index of the bucket a latency falls in (LATENCY_BUCKETS_MS.length = overflow). */
export function bucketOf(ms: number): number {
  let lo = 0;
  let hi = LATENCY_BUCKETS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ms <= LATENCY_BUCKETS_MS[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The q-quantile (0..1) of a histogram, linearly interpolated inside its bucket; null when empty.
 * The overflow bucket answers its lower bound.
 */
export function quantile(buckets: readonly number[], q: number): number | null {
  const total = buckets.reduce((s, c) => s + c, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const c = buckets[i]!;
    if (c > 0 && seen + c >= rank) {
      const lo = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1]!;
      const hi = LATENCY_BUCKETS_MS[i] ?? lo;
      return lo + (hi - lo) * Math.min(1, Math.max(0, (rank - seen) / c));
    }
    seen += c;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]!;
}

/** This node's counters for the current and not-yet-published seconds. */
export function makeLocalCounters(node: string) {
  let pending = new Map<number, { finished: number; latencyBuckets: number[] }>();
  return {
    /** Counts one task that reached a terminal state, `latencyMs` after it was created. */
    record(second: number, latencyMs: number) {
      let s = pending.get(second);
      if (!s) pending.set(second, (s = { finished: 0, latencyBuckets: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0) }));
      s.finished++;
      s.latencyBuckets[bucketOf(latencyMs)]!++;
    },
    /**
     * Summaries of every complete second before `nowSecond` (at least one, for the pool gauges),
     * and forgets them.
     */
    drain(nowSecond: number, workers: number, busyWorkers: number): NodeSecondSummary[] {
      const out: NodeSecondSummary[] = [];
      const keep = new Map<number, { finished: number; latencyBuckets: number[] }>();
      for (const [second, s] of pending) {
        if (second < nowSecond) out.push({ node, second, ...s, workers, busyWorkers });
        else keep.set(second, s);
      }
      pending = keep;
      if (out.length === 0) out.push({ node, second: nowSecond - 1, finished: 0, latencyBuckets: [], workers, busyWorkers });
      return out;
    },
  };
}

const slotOf = (second: number) => ((second % STATS_WINDOW_S) + STATS_WINDOW_S) % STATS_WINDOW_S;

interface Slot {
  second: number;
  finished: number;
  latencyBuckets: number[];
}

/** Folds the summaries of all nodes into the cluster's view. */
export function makeClusterStats() {
  const ring: Slot[] = Array.from({ length: STATS_WINDOW_S }, () => ({ second: -1, finished: 0, latencyBuckets: [] }));
  const nodes = new Map<string, { second: number; workers: number; busyWorkers: number }>();

  return {
    add(s: NodeSecondSummary) {
      const slot = ring[slotOf(s.second)]!;
      if (slot.second !== s.second) {
        if (slot.second > s.second) return; // older than the window
        slot.second = s.second;
        slot.finished = 0;
        slot.latencyBuckets = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
      }
      slot.finished += s.finished;
      for (let i = 0; i < s.latencyBuckets.length; i++) slot.latencyBuckets[i]! += s.latencyBuckets[i]!;
      const known = nodes.get(s.node);
      if (!known || known.second <= s.second) nodes.set(s.node, { second: s.second, workers: s.workers, busyWorkers: s.busyWorkers });
    },

    /** The cluster as of `nowSecond` (the current, incomplete second is left out). */
    snapshot(nowSecond: number): ClusterStats {
      const series: number[] = [];
      const latency = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
      for (let second = nowSecond - STATS_WINDOW_S; second < nowSecond; second++) {
        const slot = ring[slotOf(second)]!;
        const live = slot.second === second;
        series.push(live ? slot.finished : 0);
        if (live && second >= nowSecond - LATENCY_WINDOW_S) {
          for (let i = 0; i < slot.latencyBuckets.length; i++) latency[i]! += slot.latencyBuckets[i]!;
        }
      }
      let workers = 0;
      let busyWorkers = 0;
      for (const [node, n] of nodes) {
        if (n.second < nowSecond - NODE_TTL_S) nodes.delete(node);
        else {
          workers += n.workers;
          busyWorkers += n.busyWorkers;
        }
      }
      const recent = series.slice(-THROUGHPUT_WINDOW_S);
      return {
        throughputSeries: series,
        throughputPerSec: recent.reduce((s, c) => s + c, 0) / THROUGHPUT_WINDOW_S,
        latencyP50Ms: quantile(latency, 0.5),
        latencyP95Ms: quantile(latency, 0.95),
        latencyP99Ms: quantile(latency, 0.99),
        workers,
        busyWorkers,
      };
    },
  };
}
