/**
 * deleteTasks: the store deletes the ended tasks of a batch with their attempts, TASK_DELETED tells
 * every node (their taskUpdated and taskOutput subscriptions of these tasks complete), then the
 * file bundles nothing names any more leave the blob store, as after a retention sweep.
 *
 * An ended task whose row another statement holds is skipped by the store, not waited for. Such a
 * hold is short: typically the write of the attempt a just-cancelled run recorded as it stopped.
 * Those ids are tried again a few times, after BUSY_RETRY_MS each, so deleting what was cancelled
 * a moment ago deletes it; whatever is still held after that is reported as skipped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { deleteUnreferenced } from './blobs.js';
import type { NodeState } from './node.js';

/** Waits before each new try of the ids whose rows were held (ms). */
const BUSY_RETRY_MS = [20, 100, 500] as const;

export function makeDeletes(s: NodeState) {
  const { store, bus, logger } = s.options;

  async function deleteOnce(tenantId: string, ids: string[]) {
    const gone = await store.tasks.deleteMany(tenantId, ids);
    if (gone.ids.length > 0) bus.pubsub.publish('TASK_DELETED', gone.ids);
    // The rows are gone whatever happens here: a blob left behind is the sweeper's blob GC's to take.
    await deleteUnreferenced(store, gone.digests).catch((err: unknown) => logger.warn({ err, tenantId }, 'deleteTasks: unreferenced blobs left for the sweeper'));
    return gone;
  }

  async function deleteMany(tenantId: string, ids: string[]) {
    let gone = await deleteOnce(tenantId, ids);
    let deleted = gone.ids.length;
    for (const waitMs of BUSY_RETRY_MS) {
      if (gone.busy.length === 0) break;
      await sleep(waitMs);
      gone = await deleteOnce(tenantId, gone.busy);
      deleted += gone.ids.length;
    }
    return deleted;
  }

  return { deleteMany };
}
