/**
 * A node publishes a state change after writing it. One that dies between the two (kill -9, OOM,
 * a lost host) leaves tasks ended in the database that no subscriber heard of, and nothing would
 * ever tell them. So whoever takes over a dead node's leases replays the ends that node wrote last:
 * a subscriber may hear an end twice (events are at least once), never not at all.
 *
 * What a crash can leave unpublished is the writes it had in flight: a few result batches
 * (writeParallel × finishBatchMax) and one insert batch. Its newest REPLAY_MAX ends cover them; the
 * window (three leases) bounds how far back the dead node's last write can lie: its leases expired
 * at most a lease after its last heartbeat, and we take over at most a recovery period after that.
 */
import { taskEvent } from './results.js';
import type { Logger, TaskEvent } from './types.js';
import type { Store } from '../store/types.js';

const REPLAY_MAX = 2_000;
const WINDOW_SLACK_MS = 10_000;

export interface LostEndsOptions {
  store: Store;
  /** This node: its own expired leases (a stalled heartbeat) are not a lost node. */
  node: string;
  leaseMs: number;
  publish(events: TaskEvent[]): void;
  logger: Logger;
}

export function makeLostEnds({ store, node, leaseMs, publish, logger }: LostEndsOptions) {
  const windowMs = 3 * leaseMs + WINDOW_SLACK_MS;
  /** Lost nodes replayed, and when: each once per window, however many of its leases we take. */
  const replayed = new Map<string, number>();

  return {
    /** Replays the last ends of each node in `lostOwners` (the previous owners of leases just taken over). */
    async replay(lostOwners: Iterable<string | null>): Promise<void> {
      const now = Date.now();
      for (const [lost, at] of replayed) if (now - at > windowMs) replayed.delete(lost);
      for (const lost of new Set(lostOwners)) {
        if (!lost || lost === node || replayed.has(lost)) continue;
        replayed.set(lost, now);
        try {
          // Up to now and a little past: finished_at is the writing node's clock, and clocks disagree.
          const since = new Date(now - windowMs);
          const until = new Date(now + WINDOW_SLACK_MS);
          const rows = await store.tasks.finishedBetween(since, until, REPLAY_MAX, { node: lost, newestFirst: true });
          publish(rows.map(taskEvent));
          logger.info({ lostNode: lost, tasks: rows.length }, 'executor: replayed the last ends of a lost node');
        } catch (err) {
          replayed.delete(lost);
          logger.warn({ err, lostNode: lost }, 'executor: could not replay the last ends of a lost node');
        }
      }
    },
  };
}
