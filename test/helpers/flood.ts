/**
 * The alias flood of issue 9 and what it needs: a tenant with many tasks (cloned in bulk on
 * PostgreSQL), and the costliest request of each shape that a cost limit admits. Shared by the
 * flood benchmark (bench/flood.ts) and the flood chaos test.
 *
 *   await seedTasks(url, schema, templateTaskId, 30_000);
 *   const n = maxAliases(schema, 'totalCount', 50_000, ids);
 *   await gql(floodQuery('totalCount', n, ids));
 */
import { Lexer, Source, TokenKind, parse, type GraphQLSchema } from 'graphql';
import pg from 'pg';
import { operationCost } from '../../src/graphql/cost.js';
import { MAX_TOKENS } from '../../src/server/graphql.js';

/**
 * One alias of each shape: what a field costs the database, multiplied by as many aliases as the
 * cost limit admits. `ids` are task ids of the tenant (lookups spread over them).
 */
export const FLOOD_SHAPES = {
  /** A count over the tenant's tasks per alias (the finding: 4,000 of these took 13 s). */
  totalCount: (i: number) => `a${i}: tasks(first: 1) { totalCount }`,
  /** A full page read per alias. */
  page: (i: number) => `a${i}: tasks(first: 500) { edges { node { id status exitCode } } }`,
  /** A page and its total per alias, as a dashboard asks. */
  pageAndCount: (i: number) => `a${i}: tasks(first: 50) { totalCount edges { node { id status createdAt } } }`,
  /** A lookup by id per alias (batched by the per-request loader). */
  lookup: (i: number, ids: string[]) => `a${i}: task(id: "${ids[i % ids.length]}") { id status exitCode }`,
  /** A task's attempts per alias (one read per task). */
  attempts: (i: number, ids: string[]) => `a${i}: task(id: "${ids[i % ids.length]}") { attemptList { n outcome stdout } }`,
  /** A page of tasks with each one's stdout: a read of attempts per task on the page. */
  pageStdout: (i: number) => `a${i}: tasks(first: 100) { edges { node { id stdout } } }`,
  /** Status counts per alias (group-by; cached per tenant for a second). */
  stats: (i: number) => `a${i}: stats { queueDepth byStatus { status count } }`,
} as const;

export type FloodShape = keyof typeof FLOOD_SHAPES;

export const floodQuery = (shape: FloodShape, n: number, ids: string[] = []): string =>
  `{ ${Array.from({ length: n }, (_, i) => FLOOD_SHAPES[shape](i, ids)).join(' ')} }`;

function tokens(text: string): number {
  const lexer = new Lexer(new Source(text));
  let n = 0;
  for (let t = lexer.advance(); t.kind !== TokenKind.EOF; t = lexer.advance()) n++;
  return n;
}

/** The most aliases of `shape` one request may carry: within `maxCost` and the parser's token limit. */
export function maxAliases(schema: GraphQLSchema, shape: FloodShape, maxCost: number, ids: string[] = []): { n: number; cost: number } {
  const fits = (n: number) => {
    const text = floodQuery(shape, n, ids);
    if (tokens(text) > MAX_TOKENS) return false;
    try {
      return operationCost(schema, parse(text), {}) <= maxCost;
    } catch {
      return false; // too many fields to cost: refused
    }
  };
  if (!fits(1)) return { n: 0, cost: operationCost(schema, parse(floodQuery(shape, 1, ids)), {}) };
  let lo = 1;
  let hi = 2;
  while (fits(hi)) [lo, hi] = [hi, hi * 2];
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return { n: lo, cost: operationCost(schema, parse(floodQuery(shape, lo, ids)), {}) };
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Clones task `templateId` (and its attempts) `count` times in one statement: new ids, no
 * idempotency key, creation times 10 ms apart going back from the template's. Columns are read
 * from the catalogue, so a column added later is cloned too. Then ANALYZE, as a real tenant's
 * statistics would be. Returns the new ids (newest first).
 */
export async function seedTasks(url: string, schema: string, templateId: string, count: number): Promise<string[]> {
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${quote(schema)}` });
  await client.connect();
  try {
    const columns = async (table: string) =>
      (await client.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, [schema, table])).rows.map((r) => r.column_name);
    const taskColumns = await columns('task');
    const attemptColumns = await columns('task_attempt');
    const taskValue: Record<string, string> = {
      id: 'gen_random_uuid()',
      idempotency_key: 'NULL',
      created_at: `t.created_at - g * interval '10 milliseconds'`,
    };
    const attemptValue: Record<string, string> = { id: 'gen_random_uuid()', task_id: 'n.id' };
    const { rows } = await client.query<{ id: string }>(
      `WITH n AS (
         INSERT INTO task (${taskColumns.map(quote).join(', ')})
         SELECT ${taskColumns.map((c) => taskValue[c] ?? `t.${quote(c)}`).join(', ')}
           FROM task t, generate_series(1, $2::int) g WHERE t.id = $1
         RETURNING id, created_at
       ), a AS (
         INSERT INTO task_attempt (${attemptColumns.map(quote).join(', ')})
         SELECT ${attemptColumns.map((c) => attemptValue[c] ?? `a.${quote(c)}`).join(', ')}
           FROM n, task_attempt a WHERE a.task_id = $1
       )
       SELECT id FROM n ORDER BY created_at DESC`,
      [templateId, count],
    );
    await client.query('ANALYZE task');
    await client.query('ANALYZE task_attempt');
    return rows.map((r) => r.id);
  } finally {
    await client.end();
  }
}
