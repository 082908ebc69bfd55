/**
 * One timer for all delayed work: armed at the earliest known runAt (delayed submits, retry
 * backoffs, the store's nextRunAt), re-armed only when an earlier time comes along. No per-task
 * timers. The timer is unref'ed: it never keeps the process alive.
 */

/** setTimeout's ceiling (about 24.8 days); a later runAt is re-armed by the slow poll. */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** Fire a hair late rather than early, so the database's clock agrees the task is due. */
const SLACK_MS = 2;

export function makeWakeup(fire: () => void) {
  let timer: NodeJS.Timeout | null = null;
  let armedAt = Infinity;
  let closed = false;

  return {
    /** Makes sure `fire` runs at (or just after) `when`. */
    at(when: Date) {
      if (closed) return;
      const t = when.getTime();
      if (t >= armedAt) return;
      if (timer) clearTimeout(timer);
      armedAt = t;
      timer = setTimeout(
        () => {
          timer = null;
          armedAt = Infinity;
          fire();
        },
        Math.min(MAX_DELAY_MS, Math.max(0, t - Date.now()) + SLACK_MS),
      );
      timer.unref();
    },
    clear() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
