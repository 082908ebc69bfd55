import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_MS, STATS_WINDOW_S, bucketOf, makeClusterStats, makeLocalCounters, quantile } from '../../src/executor/stats.js';

describe('LATENCY_BUCKETS_MS', () => {
  it('is increasing and log-spaced from 0.1 ms to hours', () => {
    expect(LATENCY_BUCKETS_MS[0]).toBe(0.1);
    expect(LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]).toBe(10_000_000);
    for (let i = 1; i < LATENCY_BUCKETS_MS.length; i++) {
      const ratio = LATENCY_BUCKETS_MS[i]! / LATENCY_BUCKETS_MS[i - 1]!;
      expect(ratio).toBeGreaterThan(1.4);
      expect(ratio).toBeLessThan(1.55);
    }
  });

  it('bucketOf puts a value in the first bucket whose bound is ≥ it, and overflow last', () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(0.1)).toBe(0);
    expect(bucketOf(1)).toBe(LATENCY_BUCKETS_MS.indexOf(1));
    expect(bucketOf(1.01)).toBe(LATENCY_BUCKETS_MS.indexOf(1) + 1);
    expect(bucketOf(1e9)).toBe(LATENCY_BUCKETS_MS.length);
  });
});

describe('quantile', () => {
  it('is null for an empty histogram', () => {
    expect(quantile([], 0.5)).toBeNull();
    expect(quantile([0, 0, 0], 0.5)).toBeNull();
  });

  it('lands inside the bucket holding the rank, within the bucket bounds', () => {
    const buckets = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
    for (const ms of [2, 2, 2, 2, 2, 2, 2, 2, 2, 100]) buckets[bucketOf(ms)]!++;
    const p50 = quantile(buckets, 0.5)!;
    const i2 = bucketOf(2);
    expect(p50).toBeGreaterThan(LATENCY_BUCKETS_MS[i2 - 1]!);
    expect(p50).toBeLessThanOrEqual(LATENCY_BUCKETS_MS[i2]!);
    const p99 = quantile(buckets, 0.99)!;
    expect(p99).toBeGreaterThan(LATENCY_BUCKETS_MS[bucketOf(100) - 1]!);
    expect(p99).toBeLessThanOrEqual(LATENCY_BUCKETS_MS[bucketOf(100)]!);
  });
});

describe('cluster stats', () => {
  it('sums the summaries of several nodes per second', () => {
    const a = makeLocalCounters('a');
    const b = makeLocalCounters('b');
    for (let i = 0; i < 5; i++) a.record(1000, 3);
    for (let i = 0; i < 7; i++) b.record(1000, 3);
    b.record(1001, 50);
    const cluster = makeClusterStats();
    for (const s of a.drain(1002, 2, 1)) cluster.add(s);
    for (const s of b.drain(1002, 4, 4)) cluster.add(s);
    const snap = cluster.snapshot(1002);
    expect(snap.throughputSeries).toHaveLength(STATS_WINDOW_S);
    expect(snap.throughputSeries.slice(-2)).toEqual([12, 1]);
    expect(snap.throughputPerSec).toBeCloseTo(13 / 10);
    expect(snap.workers).toBe(6);
    expect(snap.busyWorkers).toBe(5);
    expect(snap.latencyP50Ms).toBeGreaterThan(2);
    expect(snap.latencyP50Ms).toBeLessThanOrEqual(3.17);
    expect(snap.latencyP99Ms).toBeGreaterThan(30);
  });

  it('drain keeps the current second for later and always reports one summary', () => {
    const c = makeLocalCounters('n');
    c.record(10, 1);
    c.record(11, 1);
    const first = c.drain(11, 1, 0);
    expect(first.map((s) => [s.second, s.finished])).toEqual([[10, 1]]);
    const idle = c.drain(11, 1, 0);
    expect(idle.map((s) => [s.second, s.finished])).toEqual([[10, 0]]);
    expect(c.drain(12, 1, 0).map((s) => [s.second, s.finished])).toEqual([[11, 1]]);
  });

  it('forgets seconds older than the window and nodes that went quiet', () => {
    const cluster = makeClusterStats();
    cluster.add({ node: 'x', second: 100, finished: 9, latencyBuckets: [9], workers: 2, busyWorkers: 2 });
    expect(cluster.snapshot(101).throughputSeries.at(-1)).toBe(9);
    const later = cluster.snapshot(100 + STATS_WINDOW_S + 1);
    expect(later.throughputSeries.every((n) => n === 0)).toBe(true);
    expect(later.latencyP50Ms).toBeNull();
    expect(later.workers).toBe(0);
    // A summary older than what its ring slot holds is ignored.
    cluster.add({ node: 'x', second: 100 + STATS_WINDOW_S, finished: 1, latencyBuckets: [], workers: 2, busyWorkers: 0 });
    cluster.add({ node: 'x', second: 100, finished: 5, latencyBuckets: [], workers: 2, busyWorkers: 0 });
    expect(cluster.snapshot(101 + STATS_WINDOW_S).throughputSeries.at(-1)).toBe(1);
  });

  it('latency percentiles cover the last 60 s only', () => {
    const cluster = makeClusterStats();
    const slow = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
    slow[bucketOf(5_000)] = 10;
    cluster.add({ node: 'x', second: 1000, finished: 10, latencyBuckets: slow, workers: 1, busyWorkers: 0 });
    expect(cluster.snapshot(1001).latencyP50Ms).toBeGreaterThan(3_000);
    expect(cluster.snapshot(1070).latencyP50Ms).toBeNull();
    expect(cluster.snapshot(1070).throughputSeries.reduce((s, n) => s + n, 0)).toBe(10);
  });
});
