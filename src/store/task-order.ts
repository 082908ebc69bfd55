/**
 * The orders of a task list as SQL: each order's key expression, and the keyset condition "after
 * this row" for cursor pagination. Rows without the key (an unfinished task has no finishedAt or
 * duration) come last in both directions, then the id breaks ties, so every row has exactly one
 * place and a page boundary can fall anywhere, also among equal keys and among the NULLs.
 */
import type { TaskCursor, TaskOrder, TaskOrderField, TaskRow } from './types.js';

interface OrderKey {
  /** The key in SQL, over task alias t. */
  sql: string;
  /** The cursor's value ($n, a bigint) in the key's type. */
  param(n: string): string;
  nullable: boolean;
  /** The key of a row, as a cursor holds it. */
  of(row: TaskRow): number | null;
}

/** Exact to the ms (to_timestamp goes through a float of seconds). */
const msToTime = (n: string) => `('epoch'::timestamptz + ${n}::bigint * interval '1 millisecond')`;

const KEYS: Record<TaskOrderField, OrderKey> = {
  // (tenant_id, created_at DESC, id DESC) serves both directions.
  createdAt: { sql: 't.created_at', param: msToTime, nullable: false, of: (r) => r.createdAt.getTime() },
  finishedAt: { sql: 't.finished_at', param: msToTime, nullable: true, of: (r) => r.finishedAt?.getTime() ?? null },
  // The API's durationMs. An integer count of ms times an interval is exact, unlike a float of seconds.
  duration: {
    sql: '(t.finished_at - t.created_at)',
    param: (n) => `(${n}::bigint * interval '1 millisecond')`,
    nullable: true,
    of: (r) => (r.finishedAt ? r.finishedAt.getTime() - r.createdAt.getTime() : null),
  },
  priority: { sql: 't.priority', param: (n) => `${n}::int`, nullable: false, of: (r) => r.priority },
};

export const cursorValue = (order: TaskOrder, row: TaskRow): number | null => KEYS[order.field].of(row);

export function orderBySql(order: TaskOrder): string {
  const key = KEYS[order.field];
  const dir = order.direction === 'asc' ? 'ASC' : 'DESC';
  // NULLS LAST only where a NULL can be: the planner does not know that a NOT NULL column makes
  // "DESC NULLS LAST" the same as the index's DESC (NULLS FIRST), and sorted every row of the
  // tenant instead of reading the index's first entries (1.1 s instead of 0.07 at 1M tasks).
  return `${key.sql} ${dir}${key.nullable ? ' NULLS LAST' : ''}, t.id ${dir}`;
}

/** The rows after `cursor` in `order`, as a WHERE condition; its parameters are pushed on `params`. */
export function afterSql(order: TaskOrder, cursor: TaskCursor, params: unknown[]): string {
  const key = KEYS[order.field];
  const op = order.direction === 'asc' ? '>' : '<';
  const id = `$${params.push(cursor.id)}::uuid`;
  if (cursor.value === null) return `(${key.sql} IS NULL AND t.id ${op} ${id})`;
  const v = key.param(`$${params.push(cursor.value)}`);
  const past = `${key.sql} ${op} ${v} OR (${key.sql} = ${v} AND t.id ${op} ${id})`;
  // Non-null keys: the plain bound alone goes into the index condition; without it a deep page of
  // the default order scanned every newer index entry (318 ms at 500k, 0.1 ms with it).
  return key.nullable ? `(${past} OR ${key.sql} IS NULL)` : `(${key.sql} ${op}= ${v} AND (${past}))`;
}
