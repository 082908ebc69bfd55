// Task search reads the trigram index, not the table: 20,000 tasks seeded by SQL on PostgreSQL,
// ANALYZEd, then EXPLAIN of the statements the store runs for a search (the page in several
// orders, the id prefix, the count) must name task_search_idx and hold no sequential scan of task;
// and the plain newest-first page still reads its index in order (no sort of the tenant's rows).
//
// PostgreSQL only (the planner that matters in production; PGlite's tables here are tiny). Without
// DATABASE_URL it is skipped, unless SPINDLE_REQUIRE_SERVICES=1, where its absence fails the suite.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_TENANT_ID } from '../../src/store/index.js';
import { filterSql } from '../../src/store/task-count.js';
import { listStatement } from '../../src/store/tasks.js';
import type { TaskFilter, TaskOrder } from '../../src/store/types.js';
import { describeOnPostgres } from '../helpers/chaos.js';
import { databaseUrl, makeTestStore, registerStubAgent, type TestStore } from '../helpers/store.js';

const ROWS = 20_000;

describeOnPostgres('task search on PostgreSQL uses the trigram index', () => {
  let ts: TestStore;
  let db: pg.Client;
  let someId: string;

  beforeAll(async () => {
    ts = await makeTestStore();
    const agent = await registerStubAgent(ts.store, 'searched', 'a');
    db = new pg.Client({ connectionString: databaseUrl, options: `-c search_path="${ts.options.pgSchema}"` });
    await db.connect();
    // Finished tasks a second apart, each with its own token ("tok<md5 head>") in the input part
    // and a shared word in the output part, as the queue's insert and finish would write them.
    await db.query(
      `INSERT INTO task (tenant_id, agent_id, agent_version_id, module_digest, status, timeout_ms, memory_bytes, max_output_bytes,
                         retry, attempts, created_at, started_at, finished_at, search_text, priority)
       SELECT $1, $2, $3, $4, 'SUCCEEDED', 1000, 1048576, 1024, '{"maxAttempts":1,"initialBackoffMs":1000,"maxBackoffMs":60000,"retryOn":[]}', 1, ts, ts, ts + (i % 50) * interval '1 ms',
              'searched job-' || i || ' tok' || substr(md5(i::text), 1, 10) || chr(30) || 'hello, world!', i % 7
         FROM generate_series(1, $5::int) i, LATERAL (SELECT now() - i * interval '1 second' AS ts) x`,
      [DEFAULT_TENANT_ID, agent.agentId, agent.agentVersionId, agent.moduleDigest, ROWS],
    );
    await db.query('ANALYZE task');
    someId = (await db.query<{ id: string }>(`SELECT id FROM task WHERE search_text LIKE '%job-777 %'`)).rows[0]!.id;
  });

  afterAll(async () => {
    await db?.end();
    await ts?.cleanup();
  });

  /** The plan's node types and index names, flattened. */
  async function plan(text: string, params: unknown[]): Promise<{ nodes: string[]; indexes: string[] }> {
    const { rows } = await db.query(`EXPLAIN (FORMAT JSON) ${text}`, params);
    const nodes: string[] = [];
    const indexes: string[] = [];
    const walk = (n: Record<string, unknown>) => {
      nodes.push(`${n['Node Type']}${n['Relation Name'] ? ` on ${n['Relation Name']}` : ''}`);
      if (n['Index Name']) indexes.push(n['Index Name'] as string);
      for (const child of (n.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
    };
    walk(rows[0]['QUERY PLAN'][0].Plan);
    return { nodes, indexes };
  }

  async function expectIndexed(text: string, params: unknown[]) {
    const { nodes, indexes } = await plan(text, params);
    expect(nodes, nodes.join(' > ')).not.toContain('Seq Scan on task');
    expect(indexes, nodes.join(' > ')).toContain('task_search_idx');
  }

  it('the seeded rows are there and a rare token finds its one task', async () => {
    const { rows } = await ts.store.tasks.list(DEFAULT_TENANT_ID, { search: 'job-777 tok' }, 50);
    expect(rows.map((r) => r.id)).toEqual([someId]);
  });

  const orders: TaskOrder[] = [
    { field: 'createdAt', direction: 'desc' },
    { field: 'finishedAt', direction: 'asc' },
    { field: 'duration', direction: 'desc' },
    { field: 'priority', direction: 'asc' },
  ];
  for (const order of orders) {
    it(`a page of a search in ${order.field} ${order.direction} reads task_search_idx`, async () => {
      const { text, params } = listStatement(DEFAULT_TENANT_ID, { search: 'job-777 tok' }, 50, undefined, order);
      await expectIndexed(text, params);
    });
  }

  it('a search that can also be an id prefix reads task_search_idx and the primary key', async () => {
    const { text, params } = listStatement(DEFAULT_TENANT_ID, { search: someId.slice(0, 30) }, 50);
    const { nodes, indexes } = await plan(text, params);
    expect(nodes).not.toContain('Seq Scan on task');
    expect(indexes).toEqual(expect.arrayContaining(['task_search_idx', 'task_pkey']));
  });

  it('without a search, a page in createdAt order (either way) reads the tenant index in order: no sort of the tenant', async () => {
    for (const direction of ['desc', 'asc'] as const) {
      const { text, params } = listStatement(DEFAULT_TENANT_ID, {}, 50, undefined, { field: 'createdAt', direction });
      const { nodes, indexes } = await plan(text, params);
      expect(nodes.filter((n) => n.startsWith('Sort') || n.startsWith('Seq Scan')), nodes.join(' > ')).toEqual([]);
      expect(indexes).toEqual(['task_tenant_id_created_at_id_idx']);
    }
  });

  it("totalCount of a search reads task_search_idx", async () => {
    const filter: TaskFilter = { search: 'job-777 tok' };
    const params: unknown[] = [DEFAULT_TENANT_ID];
    await expectIndexed(`SELECT count(*) FROM (SELECT 1 FROM task t WHERE ${filterSql(filter, params)} LIMIT 10001) x`, params);
  });
});
