/**
 * Blobs that rows named before they were deleted (the retention sweep, deleteTasks): the ones no
 * task, attempt or module names any more go from the blob store at once. Deleting one twice (two
 * nodes at it) is harmless.
 */
import type { Store } from '../store/index.js';

/** Blob deletes in flight at once (each is a file removal or one S3 request). */
const BLOB_DELETES_AT_ONCE = 8;

/** Deletes the blobs among `digests` that nothing names any more; `deleted` hears each slice done. */
export async function deleteUnreferenced(store: Store, digests: string[], deleted: (n: number) => void = () => {}): Promise<void> {
  const gone = await store.retention.unreferenced(digests);
  for (let i = 0; i < gone.length; i += BLOB_DELETES_AT_ONCE) {
    const slice = gone.slice(i, i + BLOB_DELETES_AT_ONCE);
    await Promise.all(slice.map((d) => store.blobs.delete(d)));
    deleted(slice.length);
  }
}
