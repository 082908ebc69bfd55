/**
 * Tasks: submit (one or a batch: task.submit.ts), cancel, retry, the bulk actions (task.bulk.ts),
 * and the reads (one, a page, a count, attempts, files). Every read is scoped to the caller's
 * tenant; any role may read, changing a task needs a submitter.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { badInput, SpindleError, type BulkAction, type FileEntry, type Principal, type TaskStatus } from '../domain/index.js';
import type { Executor } from '../executor/types.js';
import { decodeFiles, type Page, type Store, type TaskAttemptRow, type TaskCount, type TaskCursor, type TaskFilter, type TaskOrder, type TaskRow } from '../store/index.js';
import type { AgentService } from './agent.service.js';
import { requireRole } from './auth.service.js';
import { checkId, notFoundAt } from './ids.js';
import { actInBulk, checkSelection, type BulkResult } from './task.bulk.js';
import type { SubmitTaskParams } from './task.check.js';
import { submitTasks, type SubmitDeps } from './task.submit.js';
import { actor } from './tenant.service.js';

/** The largest page of `list`. */
export const MAX_PAGE = 500;
/** Task search: the shortest text (one trigram: what task_search_idx can look up) and the longest. */
export const MIN_SEARCH = 3;
export const MAX_SEARCH = 200;
/** The most task ids an event filter may name. */
export const MAX_FILTER_IDS = 1000;
/** The most task ids one `tasks submitted` line names (the count is always whole). */
const LOGGED_IDS = 20;

/** A task filter as a caller sends it; `agent` is an id or a name. */
export interface TaskFilterParams {
  status?: TaskStatus[] | null;
  agent?: string | null;
  createdAfter?: Date | null;
  createdBefore?: Date | null;
  search?: string | null;
}

/** Which tasks a bulk action takes: exactly one of the two. */
export interface BulkSelection {
  ids?: string[] | null;
  filter?: TaskFilterParams | null;
}

/** A bulk action's GraphQL field, for errors and logs. */
const BULK_FIELDS: Record<BulkAction, string> = { cancel: 'cancelTasks', retry: 'retryTasks', delete: 'deleteTasks' };

/** A filter of task events as a caller sends it. */
export interface TaskEventFilterParams {
  status?: TaskStatus[] | null;
  agent?: string | null;
  taskIds?: string[] | null;
}

/** Which events a watcher gets, resolved: null = any. */
export interface TaskEventFilter {
  statuses: ReadonlySet<TaskStatus> | null;
  agentId: string | null;
  taskIds: ReadonlySet<string> | null;
}

export interface TaskService {
  /** Submits one task. With an idempotencyKey that exists already, returns that task. */
  submit(caller: Principal, input: SubmitTaskParams): Promise<TaskRow>;
  /** Submits a batch (1 to MAX_BATCH tasks) in one write, in order; all or none are accepted. */
  submitBatch(caller: Principal, inputs: SubmitTaskParams[]): Promise<TaskRow[]>;
  /** Cancels a queued, retrying or running task; CONFLICT when it has ended. */
  cancel(caller: Principal, id: string): Promise<TaskRow>;
  /** Queues a FAILED or CANCELLED task again with a fresh attempt budget; CONFLICT otherwise. */
  retry(caller: Principal, id: string): Promise<TaskRow>;
  /**
   * Cancels, retries or deletes the selected tasks (ids, at most MAX_BULK_IDS; or a filter, at most
   * BULK_MAX tasks per call) in batches; counts what was done and skipped. Delete takes only ended tasks.
   */
  act(caller: Principal, action: BulkAction, selection: BulkSelection): Promise<BulkResult>;
  /** One task, NOT_FOUND naming `id` when the tenant has none with this id. */
  get(caller: Principal, id: string): Promise<TaskRow>;
  /** The tenant's tasks among `ids` (one statement for the lot); malformed ids are simply not found. */
  getMany(caller: Principal, ids: string[]): Promise<Map<string, TaskRow>>;
  /**
   * One page, newest first, after `after` (the last row of the previous page); `first` from 1 to
   * MAX_PAGE. `count` reads up to COUNT_EXACT_MAX + 1 index entries (past that, an estimate): call it only when the count is wanted.
   */
  list(caller: Principal, filter: TaskFilterParams | null | undefined, first: number, after?: TaskCursor, order?: TaskOrder): Promise<Page<TaskRow> & { count(): Promise<TaskCount> }>;
  /** Every attempt of one of the tenant's tasks, by number; a stale one before the attempt of the same number. */
  attempts(caller: Principal, taskId: string): Promise<TaskAttemptRow[]>;
  /** A files bundle (a task's input files, an attempt's output files) named by a row the caller read. */
  files(digest: string): Promise<FileEntry[]>;
  /** Checks a filter of task events and resolves its agent. */
  eventFilter(caller: Principal, filter: TaskEventFilterParams | null | undefined): Promise<TaskEventFilter>;
}

export interface TaskDeps extends SubmitDeps {
  config: Config;
  store: Store;
  executor: Executor;
  agents: AgentService;
  logger: Logger;
}

export function makeTaskService(deps: TaskDeps): TaskService {
  // deps.agents is read where needed: the set that made this service makes it on first use (a submit needs none).
  const { config, store, executor, logger } = deps;

  /** One line per accepted submit call, whatever its size (the executor logs each task's end). */
  function submitted(caller: Principal, inputs: SubmitTaskParams[], rows: TaskRow[]) {
    const agentNames = [...new Set(inputs.map((i) => i.agent))];
    logger.info(
      { tenantId: caller.tenantId, agent: agentNames.length === 1 ? agentNames[0] : agentNames, tasks: rows.length, taskIds: rows.slice(0, LOGGED_IDS).map((r) => r.id), by: actor(caller) },
      'tasks submitted',
    );
    return rows;
  }

  /** A caller's task filter for the store, its agent (id or name) resolved. */
  async function storeFilter(caller: Principal, filter: TaskFilterParams | null | undefined): Promise<TaskFilter> {
    const where: TaskFilter = {};
    if (filter?.status?.length) where.status = filter.status;
    if (filter?.createdAfter) where.createdAfter = filter.createdAfter;
    if (filter?.createdBefore) where.createdBefore = filter.createdBefore;
    if (filter?.search != null) where.search = checkSearch('filter.search', filter.search);
    if (filter?.agent != null) where.agentId = (await deps.agents.require(caller, 'filter.agent', filter.agent)).id;
    return where;
  }

  return {
    async submit(caller, input) {
      requireRole(caller, 'submitter', 'submitTask');
      const [task] = submitted(caller, [input], await submitTasks(deps, caller, [input], () => 'input'));
      return task!;
    },

    async submitBatch(caller, inputs) {
      requireRole(caller, 'submitter', 'submitTasks');
      const max = config.maxBatch;
      if (inputs.length === 0) throw badInput('inputs', 'must contain at least one task');
      if (inputs.length > max) throw badInput('inputs', `must contain at most ${max} tasks (MAX_BATCH); got ${inputs.length}`, { max });
      return submitted(caller, inputs, await submitTasks(deps, caller, inputs, (i) => `inputs[${i}]`));
    },

    async cancel(caller, id) {
      requireRole(caller, 'submitter', 'cancelTask');
      const row = await executor.cancel(caller.tenantId, checkId('id', id));
      if (!row) throw notFoundAt('id', 'task', id);
      if (row.status !== 'CANCELLED') throw new SpindleError('CONFLICT', `task ${id} is ${row.status} and can no longer be cancelled`, { field: 'id', status: row.status });
      logger.info({ taskId: row.id, tenantId: row.tenantId, agentId: row.agentId, attempt: row.attempts, by: actor(caller) }, 'task cancelled');
      return row;
    },

    async retry(caller, id) {
      requireRole(caller, 'submitter', 'retryTask');
      const row = await executor.retry(caller.tenantId, checkId('id', id));
      if (!row) throw notFoundAt('id', 'task', id);
      if (row.status !== 'QUEUED') throw new SpindleError('CONFLICT', `task ${id} is ${row.status}; only FAILED or CANCELLED tasks can be retried`, { field: 'id', status: row.status });
      logger.info({ taskId: row.id, tenantId: row.tenantId, agentId: row.agentId, attempt: row.attempts, by: actor(caller) }, 'task queued again by retryTask');
      return row;
    },

    async act(caller, action, selection) {
      const field = BULK_FIELDS[action];
      requireRole(caller, 'submitter', field);
      const checked = checkSelection(selection.ids, selection.filter);
      const target = 'ids' in checked ? checked : { filter: await storeFilter(caller, checked.filter) };
      const result = await actInBulk({ store, executor, bulkMax: config.bulkMax }, caller.tenantId, action, target);
      logger.info({ action: field, ...result, selection: 'ids' in checked ? 'ids' : 'filter', tenantId: caller.tenantId, by: actor(caller) }, 'tasks changed in bulk');
      return result;
    },

    async get(caller, id) {
      const checked = checkId('id', id);
      const row = await store.tasks.get(caller.tenantId, checked);
      if (!row) throw notFoundAt('id', 'task', checked);
      return row;
    },

    async getMany(caller, ids) {
      const rows = await store.tasks.getMany(ids);
      return new Map(rows.filter((t) => t.tenantId === caller.tenantId).map((t) => [t.id, t]));
    },

    async list(caller, filter, first, after, order) {
      if (first < 1 || first > MAX_PAGE) throw badInput('first', `must be between 1 and ${MAX_PAGE}`);
      const where = await storeFilter(caller, filter);
      const page = await store.tasks.list(caller.tenantId, where, first, after, order);
      return { ...page, count: () => store.tasks.count(caller.tenantId, where, config.countExactMax) };
    },

    async attempts(caller, taskId) {
      const rows = await store.tasks.attempts(taskId);
      return rows.length && rows[0]!.tenantId !== caller.tenantId ? [] : rows;
    },

    async files(digest) {
      const bundle = await store.blobs.get(digest);
      // Bundles written before paths were stored absolute hold "a/b.txt": one convention out.
      return bundle ? decodeFiles(bundle).map((f) => (f.path.startsWith('/') ? f : { ...f, path: `/${f.path}` })) : [];
    },

    async eventFilter(caller, filter) {
      const statuses = filter?.status?.length ? new Set(filter.status) : null;
      let taskIds: Set<string> | null = null;
      if (filter?.taskIds) {
        if (filter.taskIds.length > MAX_FILTER_IDS) throw badInput('filter.taskIds', `must have at most ${MAX_FILTER_IDS} ids`);
        taskIds = new Set(filter.taskIds.map((id, i) => checkId(`filter.taskIds[${i}]`, id)));
      }
      const agentId = filter?.agent != null ? (await deps.agents.require(caller, 'filter.agent', filter.agent)).id : null;
      return { statuses, agentId, taskIds };
    },
  };
}

/**
 * A search text as the store takes it: trimmed, MIN_SEARCH to MAX_SEARCH characters. Shorter has no
 * trigram, so the index could not narrow it and the search would read every task of the tenant.
 */
export function checkSearch(field: string, search: string): string {
  const s = search.trim();
  const n = [...s].length;
  if (n < MIN_SEARCH) throw badInput(field, `must be at least ${MIN_SEARCH} characters (not counting spaces at either end); got ${n}`, { min: MIN_SEARCH });
  if (n > MAX_SEARCH) throw badInput(field, `must be at most ${MAX_SEARCH} characters; got ${n}`, { max: MAX_SEARCH });
  return s;
}
