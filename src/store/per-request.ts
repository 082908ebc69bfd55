/**
 * One API request's view of the store: its reads (tasks and agents) go at most
 * READS_PER_REQUEST at a time, the rest queued in order. A request that fans out into thousands
 * of reads (an alias flood: a count and a page per alias, a task's attempts per alias) then holds
 * two connections, or two places in PGlite's queue, instead of all of them, and its CPU work
 * (building each statement, decoding each result) comes in small turns of the event loop that
 * other requests and the executor share. The GraphQL context makes one per operation.
 */
import { makeLimit } from './schedule.js';
import type { Store } from './types.js';

/**
 * Measured with three alias floods of task attempts at once (bench/flood.ts shapes, PostgreSQL):
 * the event loop's longest stall fell from 300–1,200 ms to 150–250 ms and a concurrent submit's
 * worst wait about halved, for the same flood time.
 */
export const READS_PER_REQUEST = 2;

const TASK_READS = ['get', 'getMany', 'list', 'count', 'attempts', 'countActive', 'countByStatus'] as const;
const AGENT_READS = ['get', 'getByName', 'list', 'versions', 'version', 'getVersion', 'stats'] as const;

export function forRequest(store: Store): Store {
  const limit = makeLimit(READS_PER_REQUEST);
  return { ...store, tasks: limited(store.tasks, TASK_READS, limit), agents: limited(store.agents, AGENT_READS, limit) };
}

function limited<R extends object>(repo: R, methods: readonly (keyof R)[], limit: ReturnType<typeof makeLimit>): R {
  const view = { ...repo };
  for (const name of methods) {
    const method = repo[name] as (...args: unknown[]) => Promise<unknown>;
    view[name] = ((...args: unknown[]) => limit(() => method.apply(repo, args))) as R[keyof R];
  }
  return view;
}
