import { describe, expect, it } from 'vitest';
import { backoffCeilingMs, backoffMs } from '../../src/executor/retry.js';

const policy = { initialBackoffMs: 1_000, maxBackoffMs: 60_000 };

/** A seeded PRNG (mulberry32) so "random" runs are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('backoffCeilingMs', () => {
  it('doubles from the initial delay per attempt', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffCeilingMs(n, policy))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
  });

  it('stops at the cap, even for absurd attempt numbers', () => {
    expect(backoffCeilingMs(7, policy)).toBe(60_000);
    expect(backoffCeilingMs(100, policy)).toBe(60_000);
    expect(backoffCeilingMs(5_000, policy)).toBe(60_000);
  });

  it('is monotone non-decreasing in the attempt number', () => {
    let previous = 0;
    for (let n = 1; n <= 64; n++) {
      const c = backoffCeilingMs(n, { initialBackoffMs: 37, maxBackoffMs: 1_000_000 });
      expect(c).toBeGreaterThanOrEqual(previous);
      previous = c;
    }
  });

  it('treats attempt 0 like attempt 1 and handles a zero initial delay', () => {
    expect(backoffCeilingMs(0, policy)).toBe(1_000);
    expect(backoffCeilingMs(5, { initialBackoffMs: 0, maxBackoffMs: 60_000 })).toBe(0);
  });
});

describe('backoffMs (full jitter)', () => {
  it('spans [0, ceiling] at the extremes of random', () => {
    expect(backoffMs(3, policy, () => 0)).toBe(0);
    expect(backoffMs(3, policy, () => 0.999_999_999)).toBe(4_000);
    // A sloppy random that returns 1 must not exceed the ceiling.
    expect(backoffMs(3, policy, () => 1)).toBe(4_000);
  });

  it('is deterministic with an injected random', () => {
    const a = Array.from({ length: 10 }, (_, i) => backoffMs(i + 1, policy, seeded(42)));
    const b = Array.from({ length: 10 }, (_, i) => backoffMs(i + 1, policy, seeded(42)));
    expect(a).toEqual(b);
    expect(backoffMs(2, policy, () => 0.5)).toBe(1_000);
  });

  it('always stays within [0, min(cap, initial × 2^(n−1))] and returns whole milliseconds', () => {
    const random = seeded(7);
    for (let n = 1; n <= 20; n++) {
      for (let i = 0; i < 200; i++) {
        const d = backoffMs(n, policy, random);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(Math.min(60_000, 1_000 * 2 ** (n - 1)));
      }
    }
  });

  it('spreads delays over the whole window (jitter, not a fixed delay)', () => {
    const random = seeded(1);
    const samples = Array.from({ length: 2_000 }, () => backoffMs(4, policy, random));
    const mean = samples.reduce((s, d) => s + d, 0) / samples.length;
    // Uniform over [0, 8000]: mean ≈ 4000; both halves of the window are used.
    expect(mean).toBeGreaterThan(3_500);
    expect(mean).toBeLessThan(4_500);
    expect(samples.some((d) => d < 1_000)).toBe(true);
    expect(samples.some((d) => d > 7_000)).toBe(true);
  });

  it('uses Math.random by default', () => {
    const d = backoffMs(1, policy);
    expect(d).toBeGreaterThanOrEqual(0);
    expect(d).toBeLessThanOrEqual(1_000);
  });
});
