/**
 * Retry is a table plus a pure function (STYLE §5): which outcomes retry is data (`retryOn`), the
 * delay before the next attempt is `backoffMs`. Nothing here touches the clock, the store or I/O.
 * The executor only ever reads the policy stored on the task; its defaults are configuration
 * (DEFAULT_MAX_ATTEMPTS, BACKOFF_*, DEFAULT_RETRY_ON), filled in at submit (services/limits.ts).
 */
import type { OutcomeKind, RetryOn, RetryPolicy } from '../domain/index.js';
import type { AttemptResult } from '../store/types.js';

/** Growth factor of the exponential backoff ceiling (fixed; the policy sets initial and cap). */
export const BACKOFF_FACTOR = 2;

/**
 * The delay before the attempt that follows attempt number `attempt` (1-based: pass 1 after the
 * first attempt failed), in whole milliseconds: "full jitter", uniform in [0, ceiling] where
 *
 *     ceiling = min(policy.maxBackoffMs, policy.initialBackoffMs × 2^(attempt − 1))
 *
 * Full jitter spreads a burst of failures (a dependency outage, a node death) over the whole
 * window instead of re-synchronising the retries. `random` must return [0, 1) like Math.random;
 * inject it for deterministic tests.
 */
export function backoffMs(attempt: number, policy: Pick<RetryPolicy, 'initialBackoffMs' | 'maxBackoffMs'>, random: () => number = Math.random): number {
  const ceiling = backoffCeilingMs(attempt, policy);
  // floor(r × (c + 1)) is uniform over the integers 0..c; the min guards r = 1 from a sloppy random.
  return Math.min(ceiling, Math.floor(random() * (ceiling + 1)));
}

/** The upper bound of `backoffMs` for this attempt (monotone in `attempt`, never above the cap). */
export function backoffCeilingMs(attempt: number, policy: Pick<RetryPolicy, 'initialBackoffMs' | 'maxBackoffMs'>): number {
  const exponent = Math.max(0, attempt - 1);
  // 2^1024 is Infinity, which min() turns into the cap: no overflow for absurd attempt numbers.
  return Math.floor(Math.min(policy.maxBackoffMs, policy.initialBackoffMs * BACKOFF_FACTOR ** exponent));
}

/**
 * The `retryOn` vocabulary entry an outcome falls under, or null when the outcome can never be
 * retried: success (exited 0), `invalid_module` (it will never get better) and `cancelled` (a
 * user asked for it to stop).
 */
export function retryKind(outcome: OutcomeKind, exitCode: number | null): RetryOn | null {
  switch (outcome) {
    case 'exited':
      return exitCode === 0 ? null : 'nonzero_exit';
    case 'invalid_module':
    case 'cancelled':
      return null;
    default:
      return outcome;
  }
}

/** True when the policy lists the outcome in `retryOn` and attempts remain (`attemptsUsed` < maxAttempts). */
export function shouldRetry(outcome: OutcomeKind, exitCode: number | null, policy: RetryPolicy, attemptsUsed: number): boolean {
  const kind = retryKind(outcome, exitCode);
  return kind !== null && attemptsUsed < policy.maxAttempts && policy.retryOn.includes(kind);
}

/**
 * The task's next state after attempt `attemptsUsed` ended with this outcome:
 * exited 0 → SUCCEEDED; cancelled → CANCELLED; retryable with attempts left → RETRYING at
 * now + backoff; anything else → FAILED.
 */
export function nextState(
  outcome: OutcomeKind,
  exitCode: number | null,
  policy: RetryPolicy,
  attemptsUsed: number,
  nowMs: number,
  random: () => number = Math.random,
): AttemptResult['next'] {
  if (outcome === 'exited' && exitCode === 0) return { status: 'SUCCEEDED' };
  if (outcome === 'cancelled') return { status: 'CANCELLED' };
  if (shouldRetry(outcome, exitCode, policy, attemptsUsed)) {
    return { status: 'RETRYING', runAt: new Date(nowMs + backoffMs(attemptsUsed, policy, random)) };
  }
  return { status: 'FAILED' };
}
