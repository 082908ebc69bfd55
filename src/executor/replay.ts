/**
 * Replay after a pub/sub gap. While Redis was unreachable this node heard nothing from the others
 * (and they nothing from it), so a subscriber here may have missed a task's end. When the link is
 * back, the terminal states reached during the gap are read from the database and handed to this
 * node's subscriptions again — only here, never re-published: every node replays for its own.
 * Delivery is at least once: a subscriber may see an end it already saw (its own node's tasks,
 * the margins), never miss one.
 */
import type { TaskRepository } from '../store/types.js';
import { taskEvent } from './results.js';
import type { Logger, TaskEvent } from './types.js';

/** The terminal events of the tasks that finished in [since, until], in pages. */
export type ReplaySource = (since: Date, until: Date) => AsyncIterable<TaskEvent[]>;

/**
 * Widens the window on both sides: finished_at is written with the finishing node's clock (nodes
 * disagree by some ms to s), and a message published just before the link noticed the outage was
 * lost too.
 */
export const REPLAY_MARGIN_MS = 5_000;
/**
 * How long a replay waits after it is asked for: the other nodes come back at about the same time
 * and announce their own gaps; one replay then covers them all.
 */
export const REPLAY_SETTLE_MS = 1_000;
/** After a failed replay (the database unreachable too), the next try. */
const RETRY_MS = 5_000;
const PAGE_SIZE = 500;

/** The terminal events of [since, until] from the store, PAGE_SIZE rows per read (keyset over task_finished_idx). */
export function finishedEvents(tasks: Pick<TaskRepository, 'finishedBetween'>, pageSize = PAGE_SIZE): ReplaySource {
  return async function* (since, until) {
    let after: { finishedAt: Date; id: string } | undefined;
    for (;;) {
      const rows = await tasks.finishedBetween(since, until, pageSize, { after });
      if (rows.length > 0) yield rows.map(taskEvent);
      if (rows.length < pageSize) return;
      const last = rows.at(-1)!;
      after = { finishedAt: last.finishedAt, id: last.id };
    }
  };
}

export interface Replayer {
  /** Asks for a replay from `since` (merged with one already pending). */
  request(since: Date): void;
  /** Cancels what is pending; a running replay stops after its current page. */
  close(): void;
}

export interface ReplayerOptions {
  source: ReplaySource;
  /** Hands a page to this node's subscriptions. */
  deliver(events: TaskEvent[]): void;
  /** Whether anyone here would hear a replay (a worker-only node has no subscriptions: nothing to read). */
  wanted(): boolean;
  logger: Logger;
  settleMs?: number;
}

export function makeReplayer({ source, deliver, wanted, logger, settleMs = REPLAY_SETTLE_MS }: ReplayerOptions): Replayer {
  let pending: Date | null = null;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let closed = false;

  const schedule = (delayMs: number) => {
    if (closed || running || timer) return;
    timer = setTimeout(() => void run(), delayMs);
    timer.unref();
  };

  async function run() {
    timer = undefined;
    if (closed || pending === null) return;
    const asked = pending;
    pending = null;
    if (!wanted()) return;
    running = true;
    const since = new Date(asked.getTime() - REPLAY_MARGIN_MS);
    const until = new Date(Date.now() + REPLAY_MARGIN_MS);
    let events = 0;
    let delay = settleMs;
    try {
      for await (const page of source(since, until)) {
        if (closed) return;
        deliver(page);
        events += page.length;
        // Between pages, let the WebSocket writes of this one go out.
        await new Promise((resolve) => setImmediate(resolve));
      }
      logger.info({ since, until, events }, `pub/sub replay: ${events} task ends since the gap delivered to this node's subscribers`);
    } catch (err) {
      logger.warn({ err, since }, 'pub/sub replay failed; trying again');
      pending = earliest(pending, asked);
      delay = RETRY_MS;
    } finally {
      running = false;
    }
    if (pending) schedule(delay);
  }

  return {
    request(since) {
      pending = earliest(pending, since);
      schedule(settleMs);
    },
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}

const earliest = (a: Date | null, b: Date): Date => (a && a < b ? a : b);
