/**
 * Waiting in tests: the one polling helper, and `sleep` for the few places that must let time pass.
 *
 *   const task = await waitFor('the task to succeed', async () => (await get(id)).status === 'SUCCEEDED' && task);
 *   await waitFor('two running', () => executor.running() === 2, { timeoutMs: 5_000, everyMs: 10 });
 *
 * Wait on the condition, not on a guess of how long it takes: a fixed sleep is either too short on
 * a loaded machine (flaky) or too long everywhere else (slow). `sleep` is for asserting that
 * something does NOT happen within a time (say so in a comment) or for pacing a load generator.
 */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  /** Give up (reject) after this long. Default 20 s. */
  timeoutMs?: number;
  /** Check again after this long. Default 20 ms: the checks are cheap (in-process or one query). */
  everyMs?: number;
}

/**
 * Calls `check` until it returns a truthy value and resolves with that value; rejects with
 * "timed out after N ms waiting for WHAT" after `timeoutMs`. `check` may be sync or async; an
 * exception from it fails the wait at once.
 */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, { timeoutMs = 20_000, everyMs = 20 }: WaitOptions = {}): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, false | null | undefined | 0 | ''>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
