// Chaos: the alias flood of issue 9 sent to one node of two while both run tasks. Two node
// processes (src/main.ts) share a PostgreSQL schema with 30k finished tasks in the tenant and a
// private redis-server; LEASE_MS=5000 and every sleeper task runs 6 s, so a lease survives only
// if its heartbeats get through. Three of the costliest requests the default MAX_QUERY_COST
// admits go to node A at once, again and again for 20 s. Then: both processes alive, every task
// SUCCEEDED with exactly one attempt (no host_error from an expired lease, nothing run twice),
// no flood answer INTERNAL_SERVER_ERROR, and a subscriber on each node saw every task's terminal
// status, once.
//
// Needs PostgreSQL (and redis-server on the PATH). Without DATABASE_URL it is skipped,
// unless SPINDLE_REQUIRE_SERVICES=1, where its absence fails the suite.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { makeSchema } from '../../src/graphql/schema.js';
import { floodQuery, maxAliases, seedTasks, type FloodShape } from '../helpers/flood.js';
import { spawnNode, type NodeProcess } from '../helpers/node-process.js';
import { startRedis, type PrivateRedis } from '../helpers/redis-server.js';
import { databaseUrl, dropSchema } from '../helpers/store.js';
import { sleep, waitFor } from '../helpers/wait.js';

const servicesRequired = process.env.SPINDLE_REQUIRE_SERVICES === '1';
const SEEDED = 30_000;
const FLOOD_MS = 20_000;
const SLEEPERS_PER_NODE = 8;
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

interface Answer {
  data?: any;
  errors?: { message: string; extensions?: { code?: string } }[];
}

async function gql(node: NodeProcess, query: string, variables?: Record<string, unknown>): Promise<Answer> {
  const res = await fetch(node.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as Answer;
}

async function gqlOk(node: NodeProcess, query: string, variables?: Record<string, unknown>): Promise<any> {
  const r = await gql(node, query, variables);
  if (r.errors?.length) throw new Error(`GraphQL errors from ${node.nodeId}: ${JSON.stringify(r.errors).slice(0, 500)}`);
  return r.data;
}

/** Every task event of the tenant seen through one node: statuses per task, in order. */
function watch(node: NodeProcess) {
  const client: Client = createClient({ url: node.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
  const seen = new Map<string, string[]>();
  let failure: unknown = null;
  client.subscribe<{ taskEvents: { taskId: string; status: string } }>(
    { query: 'subscription { taskEvents { taskId status } }' },
    {
      next: (r) => {
        if (r.errors) failure = r.errors;
        const e = r.data?.taskEvents;
        if (e) seen.set(e.taskId, [...(seen.get(e.taskId) ?? []), e.status]);
      },
      error: (err) => (failure = err),
      complete: () => (failure ??= 'completed'),
    },
  );
  return { seen, failure: () => failure, close: () => client.dispose() };
}

// Registered (and skipped) without PostgreSQL, so the embedded pass still sees the file.
const url = databaseUrl ?? '';
describe.skipIf(!databaseUrl)('chaos: the alias flood on one node of two, both running tasks', () => {
  const schema = `chaos_${randomBytes(5).toString('hex')}`;
  const dirs: string[] = [];
  const nodes: NodeProcess[] = [];
  let redis: PrivateRedis | null = null;
  const closers: (() => unknown)[] = [];

  afterAll(async () => {
    for (const close of closers) await Promise.resolve(close()).catch(() => {});
    await Promise.all(nodes.map((n) => n.stop(5_000)));
    await redis?.stop();
    await dropSchema(url, schema);
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('keeps both nodes alive, loses nothing, finishes nothing twice, and every subscriber sees every end', { timeout: 150_000 }, async () => {
    redis = await startRedis();
    const nodeUrl = new URL(url);
    nodeUrl.searchParams.set('schema', schema);
    // One DATA_DIR for both: it holds the blob store (modules), which the nodes share.
    const dir = await mkdtemp(join(tmpdir(), 'spindle-chaos-'));
    dirs.push(dir);
    const start = async (name: string) => {
      const node = await spawnNode({ NODE_ID: `chaos-${name}-${randomBytes(2).toString('hex')}`, DATABASE_URL: nodeUrl.toString(), REDIS_URL: redis!.url, DATA_DIR: dir, LEASE_MS: '5000', WORKERS: '2', LOG_LEVEL: 'warn' });
      nodes.push(node);
      return node;
    };
    // A first: it migrates the schema; B starts while A seeds.
    const a = await start('a');
    const bStarting = start('b');

    const wat = await readFile(new URL('../fixtures/wat/sleep_6s.wat', import.meta.url), 'utf8');
    await gqlOk(a, `mutation ($w: String!) { registerAgent(input: { name: "sleeper", wat: $w, defaultLimits: { timeoutMs: 30000 } }) { id } }`, { w: wat });
    const { submitTask: template } = await gqlOk(a, `mutation { submitTask(input: { agent: "hello" }) { id } }`);
    await waitFor('the template task to succeed', async () => (await gqlOk(a, `query ($id: ID!) { task(id: $id) { status } }`, { id: template.id })).task.status === 'SUCCEEDED', { timeoutMs: 30_000, everyMs: 200 });
    const seededIds = [template.id, ...(await seedTasks(url, schema, template.id, SEEDED - 1))];
    const b = await bStarting;

    // A subscriber on each node, live before anything is submitted: a probe's end reaches both.
    const watchers = [watch(a), watch(b)];
    closers.push(...watchers.map((w) => w.close));
    await waitFor('both subscriptions to be live', async () => {
      const { submitTask: probe } = await gqlOk(a, `mutation { submitTask(input: { agent: "hello", priority: 10 }) { id } }`);
      await sleep(300);
      return watchers.every((w) => (w.seen.get(probe.id) ?? []).includes('SUCCEEDED'));
    }, { timeoutMs: 30_000, everyMs: 200 });

    // Work on both nodes: sleepers (6 s, beyond LEASE_MS) submitted through each, and a trickle of hellos.
    const submitted: string[] = [];
    const sleepers = `mutation { submitTasks(inputs: [${Array(SLEEPERS_PER_NODE).fill('{ agent: "sleeper" }').join(', ')}]) { id } }`;
    for (const node of [a, b]) submitted.push(...(await gqlOk(node, sleepers)).submitTasks.map((t: { id: string }) => t.id));

    // The flood: three of the costliest admitted requests at once to A, again and again.
    const graphqlSchema = await makeSchema();
    const maxCost = loadConfig({}).graphql.maxCost;
    const shapes: FloodShape[] = ['totalCount', 'attempts'];
    const queries = shapes.map((shape) => floodQuery(shape, maxAliases(graphqlSchema, shape, maxCost, seededIds).n, seededIds));
    const floodCodes = new Map<string, number>();
    let rounds = 0;
    const floodEnd = Date.now() + FLOOD_MS;
    const flood = (async () => {
      while (Date.now() < floodEnd) {
        const query = queries[rounds % queries.length]!;
        const answers = await Promise.all([0, 1, 2].map(() => gql(a, query)));
        for (const r of answers) {
          const code = r.errors?.length ? (r.errors[0]!.extensions?.code ?? 'NO_CODE') : 'OK';
          floodCodes.set(code, (floodCodes.get(code) ?? 0) + 1);
        }
        rounds++;
      }
    })();
    const trickle = (async () => {
      for (let i = 0; Date.now() < floodEnd; i++) {
        const node = i % 2 === 0 ? a : b;
        const { submitTasks } = await gqlOk(node, `mutation { submitTasks(inputs: [${Array(5).fill('{ agent: "hello", priority: 10 }').join(', ')}]) { id } }`);
        submitted.push(...submitTasks.map((t: { id: string }) => t.id));
        await sleep(500); // the probe pace
      }
    })();
    await Promise.all([flood, trickle]);

    // Everything ends; then the verdict, from the database and from both subscribers.
    const db = new pg.Client({ connectionString: url, options: `-c search_path="${schema}"` });
    await db.connect();
    closers.push(() => db.end());
    await waitFor('every submitted task to end', async () => {
      const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM task WHERE id = ANY($1::uuid[]) AND status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')`, [submitted]);
      return Number(rows[0]!.n) === 0;
    }, { timeoutMs: 60_000, everyMs: 200 });
    await waitFor('every subscriber to see every end', () => watchers.every((w) => submitted.every((id) => (w.seen.get(id) ?? []).some((s) => TERMINAL.has(s)))), { timeoutMs: 10_000, everyMs: 200 });

    expect(a.alive() && b.alive()).toBe(true);
    expect(rounds).toBeGreaterThan(0);
    expect(floodCodes.get('INTERNAL_SERVER_ERROR') ?? 0, JSON.stringify([...floodCodes])).toBe(0);

    const tasks = await db.query<{ id: string; status: string; attempts: number }>(`SELECT id, status, attempts FROM task WHERE id = ANY($1::uuid[])`, [submitted]);
    expect(tasks.rows).toHaveLength(submitted.length); // nothing lost
    expect(tasks.rows.filter((t) => t.status !== 'SUCCEEDED' || t.attempts !== 1)).toEqual([]);
    const attempts = await db.query<{ task_id: string; n: number; node: string; outcome: string }>(
      `SELECT task_id, n, node, outcome FROM task_attempt WHERE task_id = ANY($1::uuid[]) ORDER BY task_id, n`,
      [submitted],
    );
    // One attempt each, none a host_error from an expired lease: no task ran (or ended) twice.
    expect(attempts.rows.filter((r) => r.outcome !== 'exited' || r.n !== 1)).toEqual([]);
    expect(attempts.rows).toHaveLength(submitted.length);
    // Both nodes ran tasks.
    expect(new Set(attempts.rows.map((r) => r.node))).toEqual(new Set([a.nodeId, b.nodeId]));
    for (const node of [a, b]) expect(node.logs().filter((l) => /lease expired/.test(String(l.msg)))).toEqual([]);

    for (const w of watchers) {
      expect(w.failure()).toBeNull();
      for (const id of submitted) {
        const statuses = w.seen.get(id) ?? [];
        const ends = statuses.filter((s) => TERMINAL.has(s));
        expect(ends, `${id}: ${statuses.join(' → ')}`).toEqual(['SUCCEEDED']);
        expect(statuses.at(-1)).toBe('SUCCEEDED');
      }
    }
  });
});

if (!databaseUrl && servicesRequired) {
  describe('chaos: the alias flood on one node of two, both running tasks', () => {
    it('runs (SPINDLE_REQUIRE_SERVICES=1)', () => {
      throw new Error('SPINDLE_REQUIRE_SERVICES=1 but DATABASE_URL is not set');
    });
  });
}
