/**
 * Batched inserts. Submits that arrive while an insert is in flight share the next one, so many
 * concurrent single-task submissions cost a few statements instead of one each (PGlite has one
 * connection; PostgreSQL still pays a commit per statement). An idle system inserts at once.
 *
 * A failed shared insert is retried request by request, so one bad request fails alone.
 */
import type { NewTask, TaskRow } from '../store/types.js';

type Inserted = { task: TaskRow; created: boolean }[];

interface Request {
  tasks: NewTask[];
  resolve(rows: Inserted): void;
  reject(err: unknown): void;
}

export interface SubmitterOptions {
  /** Inserts one batch (store.tasks.insertMany plus whatever must follow each write). */
  insert(tasks: NewTask[]): Promise<Inserted>;
  /** Inserts in flight at once. */
  parallel: number;
  /** Most tasks in one shared insert (a single larger request still goes whole). */
  batchMax: number;
}

export function makeSubmitter({ insert, parallel, batchMax }: SubmitterOptions) {
  const queue: Request[] = [];
  let inflight = 0;

  function pump() {
    while (inflight < parallel && queue.length > 0) {
      const batch: Request[] = [queue.shift()!];
      let size = batch[0]!.tasks.length;
      while (queue.length > 0 && size + queue[0]!.tasks.length <= batchMax) {
        const next = queue.shift()!;
        size += next.tasks.length;
        batch.push(next);
      }
      inflight++;
      void write(batch).finally(() => {
        inflight--;
        pump();
      });
    }
  }

  async function write(batch: Request[]) {
    if (batch.length === 1) return settle(batch[0]!);
    let rows: Inserted;
    try {
      rows = await insert(batch.flatMap((r) => r.tasks));
    } catch {
      for (const r of batch) await settle(r);
      return;
    }
    let at = 0;
    for (const r of batch) {
      r.resolve(rows.slice(at, at + r.tasks.length));
      at += r.tasks.length;
    }
  }

  async function settle(r: Request) {
    try {
      r.resolve(await insert(r.tasks));
    } catch (err) {
      r.reject(err);
    }
  }

  return {
    submit(tasks: NewTask[]): Promise<Inserted> {
      if (tasks.length === 0) return Promise.resolve([]);
      return new Promise((resolve, reject) => {
        queue.push({ tasks, resolve, reject });
        pump();
      });
    },
  };
}
