/**
 * cancelTasks, retryTasks and deleteTasks: one action on a selection of the tenant's tasks, given
 * as ids or as a filter like the `tasks` query's. A filter is read once when the call starts
 * (a task submitted, or changing state, meanwhile is not taken on) and takes only the tasks the
 * action applies to, at most BULK_MAX of them, so calling again goes on where the last call
 * stopped; the executor then acts on BULK_BATCH ids per short statement.
 */
import { BULK_ACTION_STATUSES, badInput, type BulkAction } from '../domain/index.js';
import type { Executor } from '../executor/types.js';
import type { Store, TaskFilter } from '../store/index.js';
import { checkId } from './ids.js';

/** The most ids one call may name. */
export const MAX_BULK_IDS = 1000;
/** Ids per statement: short enough that a batch's row locks are held only briefly. */
const BULK_BATCH = 500;

/** What a bulk call did. */
export interface BulkResult {
  /** Tasks selected: the distinct ids given, or the tasks matching the filter (and the action) that this call took on. */
  matched: number;
  /** Tasks the action changed. */
  done: number;
  /** Tasks selected but not changed: in a state the action does not apply to (by then), gone, or not the tenant's. */
  skipped: number;
  /** Tasks matching the filter beyond BULK_MAX, left for the next call (always 0 for ids). */
  remaining: number;
}

/** Exactly one of `ids` and `filter`; the ids checked and made distinct. */
export function checkSelection<F>(ids: string[] | null | undefined, filter: F | null | undefined): { ids: string[] } | { filter: F } {
  if ((ids == null) === (filter == null)) throw badInput('ids', 'give exactly one of ids and filter');
  if (filter != null) return { filter };
  if (ids!.length > MAX_BULK_IDS) throw badInput('ids', `must have at most ${MAX_BULK_IDS} ids; got ${ids!.length}`, { max: MAX_BULK_IDS });
  return { ids: [...new Set(ids!.map((id, i) => checkId(`ids[${i}]`, id)))] };
}

export interface BulkDeps {
  store: Store;
  executor: Executor;
  /** BULK_MAX. */
  bulkMax: number;
}

export async function actInBulk(deps: BulkDeps, tenantId: string, action: BulkAction, target: { ids: string[] } | { filter: TaskFilter }): Promise<BulkResult> {
  const { store, executor, bulkMax } = deps;
  let ids: string[];
  let remaining = 0;
  if ('ids' in target) {
    ids = target.ids;
  } else {
    const { status, ...filter } = target.filter;
    const statuses = BULK_ACTION_STATUSES[action].filter((s) => !status?.length || status.includes(s));
    const selected = await store.tasks.selectForAction(tenantId, filter, statuses, bulkMax);
    ids = selected.ids;
    remaining = selected.total - ids.length;
  }
  const act = { cancel: executor.cancelMany, retry: executor.retryMany, delete: executor.deleteMany }[action];
  let done = 0;
  for (let i = 0; i < ids.length; i += BULK_BATCH) done += await act(tenantId, ids.slice(i, i + BULK_BATCH));
  return { matched: ids.length, done, skipped: ids.length - done, remaining };
}
