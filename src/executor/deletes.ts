/**
 * deleteTasks: the store deletes the ended tasks of a batch with their attempts, TASK_DELETED tells
 * every node (their taskUpdated and taskOutput subscriptions of these tasks complete), then the
 * file bundles nothing names any more leave the blob store, as after a retention sweep.
 */
import { deleteUnreferenced } from './blobs.js';
import type { NodeState } from './node.js';

export function makeDeletes(s: NodeState) {
  const { store, bus, logger } = s.options;

  async function deleteMany(tenantId: string, ids: string[]) {
    const gone = await store.tasks.deleteMany(tenantId, ids);
    if (gone.ids.length > 0) bus.pubsub.publish('TASK_DELETED', gone.ids);
    // The rows are gone whatever happens here: a blob left behind is the sweeper's blob GC's to take.
    await deleteUnreferenced(store, gone.digests).catch((err: unknown) => logger.warn({ err, tenantId }, 'deleteTasks: unreferenced blobs left for the sweeper'));
    return gone.ids.length;
  }

  return { deleteMany };
}
