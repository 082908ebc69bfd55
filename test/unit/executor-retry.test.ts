import { describe, expect, it } from 'vitest';
import { OUTCOME_KINDS, RETRYABLE_KINDS, type RetryPolicy } from '../../src/domain/index.js';
import { nextState, retryKind, shouldRetry } from '../../src/executor/retry.js';

const all: RetryPolicy = { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 1_000, retryOn: [...RETRYABLE_KINDS] };

describe('retryKind', () => {
  it('maps exits by code and passes other retryable kinds through', () => {
    expect(retryKind('exited', 0)).toBeNull();
    expect(retryKind('exited', 1)).toBe('nonzero_exit');
    expect(retryKind('exited', 255)).toBe('nonzero_exit');
    for (const k of ['trap', 'timeout', 'fuel_exhausted', 'memory_limit', 'output_limit', 'host_error'] as const) {
      expect(retryKind(k, null)).toBe(k);
    }
  });

  it('never retries invalid_module or cancelled', () => {
    expect(retryKind('invalid_module', null)).toBeNull();
    expect(retryKind('cancelled', null)).toBeNull();
  });

  it('covers every outcome kind with a vocabulary entry or null', () => {
    for (const k of OUTCOME_KINDS) {
      const r = retryKind(k, 1);
      expect(r === null || (RETRYABLE_KINDS as readonly string[]).includes(r)).toBe(true);
    }
  });
});

describe('shouldRetry', () => {
  it('follows the retryOn table', () => {
    const p: RetryPolicy = { ...all, retryOn: ['timeout', 'host_error'] };
    expect(shouldRetry('timeout', null, p, 1)).toBe(true);
    expect(shouldRetry('host_error', null, p, 1)).toBe(true);
    expect(shouldRetry('trap', null, p, 1)).toBe(false);
    expect(shouldRetry('exited', 1, p, 1)).toBe(false);
    expect(shouldRetry('exited', 1, { ...p, retryOn: ['nonzero_exit'] }, 1)).toBe(true);
    expect(shouldRetry('exited', 0, { ...p, retryOn: ['nonzero_exit'] }, 1)).toBe(false);
  });

  it('stops when the attempts are used up', () => {
    const p: RetryPolicy = { ...all, maxAttempts: 3 };
    expect(shouldRetry('timeout', null, p, 1)).toBe(true);
    expect(shouldRetry('timeout', null, p, 2)).toBe(true);
    expect(shouldRetry('timeout', null, p, 3)).toBe(false);
    expect(shouldRetry('timeout', null, { ...p, maxAttempts: 1 }, 1)).toBe(false);
  });

  it('never retries invalid_module or cancelled, whatever the table says', () => {
    const p = { ...all, retryOn: [...RETRYABLE_KINDS] };
    expect(shouldRetry('invalid_module', null, p, 1)).toBe(false);
    expect(shouldRetry('cancelled', null, p, 1)).toBe(false);
  });
});

describe('nextState', () => {
  const now = Date.UTC(2026, 0, 1);

  it('exited 0 succeeds, even when retries remain', () => {
    expect(nextState('exited', 0, all, 1, now)).toEqual({ status: 'SUCCEEDED' });
  });

  it('a cancelled run stays cancelled', () => {
    expect(nextState('cancelled', null, all, 1, now)).toEqual({ status: 'CANCELLED' });
  });

  it('a retryable failure with attempts left retries after the jittered backoff', () => {
    expect(nextState('timeout', null, all, 1, now, () => 0.999_999)).toEqual({ status: 'RETRYING', runAt: new Date(now + 100) });
    expect(nextState('timeout', null, all, 3, now, () => 0.999_999)).toEqual({ status: 'RETRYING', runAt: new Date(now + 400) });
    expect(nextState('timeout', null, all, 4, now, () => 0)).toEqual({ status: 'RETRYING', runAt: new Date(now) });
  });

  it('fails when out of attempts or not retryable', () => {
    expect(nextState('timeout', null, all, 5, now)).toEqual({ status: 'FAILED' });
    expect(nextState('invalid_module', null, all, 1, now)).toEqual({ status: 'FAILED' });
    expect(nextState('trap', null, { ...all, retryOn: [] }, 1, now)).toEqual({ status: 'FAILED' });
  });
});
