/**
 * What puts tasks in the queue from this node: submits (batched by submitter.ts, inserted already
 * claimed when claim-on-insert.ts allows) and manual retries (one, or a batch of retryTasks). Whatever they queued is published as
 * QUEUED, the other nodes hear of it (notify.ts), and the claim loop wakes at once or, for a later
 * runAt, the wake-up is armed.
 */
import type { NewTask, TaskRow } from '../store/index.js';
import type { ClaimOnInsert } from './claim-on-insert.js';
import type { NodeState } from './node.js';
import { taskEvent } from './results.js';
import { makeSubmitter } from './submitter.js';
import type { TaskEvent } from './types.js';

export interface SubmitsDeps {
  claimOnInsert: ClaimOnInsert;
  publish(events: TaskEvent[]): void;
  notifyOthers(): void;
  wake(): void;
  wakeAt(when: Date): void;
}

export function makeSubmits(s: NodeState, { claimOnInsert, publish, notifyOthers, wake, wakeAt }: SubmitsDeps) {
  const { store, writeParallel } = s.options;

  /** Tasks just queued: publish them, tell the other nodes, wake (or arm) the claim loop. */
  function queued(rows: TaskRow[]) {
    publish(rows.map(taskEvent));
    notifyOthers();
    const now = Date.now();
    let due = false;
    for (const t of rows) {
      if (t.runAt.getTime() <= now) due = true;
      else wakeAt(t.runAt);
    }
    if (due) wake();
  }

  /** One shared insert (a batch of submits). */
  async function insert(tasks: NewTask[]) {
    if (s.options.claimOnInsert && (await claimOnInsert.uncapped(tasks)) && claimOnInsert.applies(tasks, Date.now())) return claimOnInsert.insert(tasks);
    const results = await store.tasks.insertMany(tasks);
    const created = results.filter((r) => r.created).map((r) => r.task);
    if (created.length > 0) queued(created);
    return results;
  }
  const submitter = makeSubmitter({ insert, parallel: writeParallel, batchMax: 1_000 });

  return {
    submit: (tasks: NewTask[]) => submitter.submit(tasks),
    /** Re-queues a FAILED or CANCELLED task. */
    async retry(tenantId: string, id: string) {
      const row = await store.tasks.retry(tenantId, id);
      if (row?.status === 'QUEUED') queued([row]);
      return row;
    },

    async retryMany(tenantId: string, ids: string[]) {
      const rows = await store.tasks.retryMany(tenantId, ids);
      if (rows.length > 0) queued(rows);
      return rows.length;
    },
  };
}
