/**
 * Chaos: a 30 s Redis outage under load. Real node processes (src/main.ts) share a private
 * redis-server — two nodes on PostgreSQL when DATABASE_URL is set, one on PGlite otherwise — with
 * tasks submitted all along (~50/s, round robin) and a taskEvents subscription open on every node.
 * Redis is killed, and started again on the same port 30 s later.
 *
 * Asserts: every node is alive at the end; /healthz said "degraded" naming pub/sub during the
 * outage and "ok" after; every submit was accepted and every accepted task ended, once (one
 * attempt each); every subscriber saw the end of every task (its own node's live, the others' by
 * Redis or, for the gap, by the replay from the database); no log line says "unhandled".
 *
 * Needs redis-server (always on CI's machine): without it the test is not registered, unless
 * SPINDLE_REQUIRE_SERVICES=1, where its absence fails the suite.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { HealthReport } from '../../src/server/health.js';
import { spawnNode, type NodeProcess } from '../helpers/node-process.js';
import { haveRedisServer, startRedis, type PrivateRedis } from '../helpers/redis-server.js';
import { dropSchema } from '../helpers/store.js';
import { sleep, waitFor } from '../helpers/wait.js';

const pgUrl = process.env.DATABASE_URL || undefined;
const servicesRequired = process.env.SPINDLE_REQUIRE_SERVICES === '1';
const OUTAGE_MS = 30_000;
/** Tasks per submit, one submit every TICK_MS: ~50 tasks/s. */
const BATCH = 5;
const TICK_MS = 100;


async function gql<T>(node: NodeProcess, query: string, variables?: Record<string, unknown>): Promise<T> {
  const res = await fetch(node.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (body.errors?.length || !body.data) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function health(node: NodeProcess): Promise<{ code: number; body: HealthReport }> {
  const res = await fetch(`${node.url}/healthz`);
  return { code: res.status, body: (await res.json()) as HealthReport };
}

/** Every task end a node's subscriber heard: task id → how many times. */
function subscribeEnds(node: NodeProcess): { client: Client; seen: Map<string, number>; errors: unknown[] } {
  const client = createClient({ url: node.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
  const seen = new Map<string, number>();
  const errors: unknown[] = [];
  client.subscribe<{ taskEvents: { taskId: string } }>(
    { query: 'subscription { taskEvents(filter: { status: [SUCCEEDED, FAILED, CANCELLED] }) { taskId status } }' },
    {
      next: ({ data }) => {
        if (data) seen.set(data.taskEvents.taskId, (seen.get(data.taskEvents.taskId) ?? 0) + 1);
      },
      error: (err) => errors.push(err),
      complete: () => errors.push(new Error('subscription completed')),
    },
  );
  return { client, seen, errors };
}

/** Every task of the default tenant: id, status, attempts (pages of 500). */
interface TaskState {
  id: string;
  status: string;
  attempts: number;
}
interface TaskPage {
  tasks: { edges: { node: TaskState }[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } };
}

async function allTasks(node: NodeProcess): Promise<TaskState[]> {
  const out: TaskState[] = [];
  let after: string | null = null;
  for (;;) {
    const { tasks }: TaskPage = await gql<TaskPage>(
      node,
      'query ($after: String) { tasks(first: 500, after: $after) { edges { node { id status attempts } } pageInfo { endCursor hasNextPage } } }',
      { after },
    );
    out.push(...tasks.edges.map((e) => e.node));
    if (!tasks.pageInfo.hasNextPage) return out;
    after = tasks.pageInfo.endCursor;
  }
}

if (haveRedisServer) {
  describe('chaos: Redis stopped for 30 s under load', () => {
    let redis: PrivateRedis | undefined;
    const nodes: NodeProcess[] = [];
    const clients: Client[] = [];
    let dataDir: string | undefined;
    let schema: string | undefined;

    afterAll(async () => {
      await Promise.allSettled(clients.map((c) => c.dispose()));
      await Promise.allSettled(nodes.map((n) => n.stop(5_000)));
      await redis?.stop();
      if (pgUrl && schema) await dropSchema(pgUrl, schema);
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it(`${pgUrl ? 'two nodes on PostgreSQL' : 'one node on PGlite'} stay up, lose nothing, finish nothing twice, and every subscriber sees every end`, { timeout: 240_000 }, async () => {
      redis = await startRedis();
      dataDir = await mkdtemp(join(tmpdir(), 'spindle-chaos-'));
      let databaseUrl: string | undefined;
      if (pgUrl) {
        schema = `t_${randomBytes(6).toString('hex')}`;
        const u = new URL(pgUrl);
        u.searchParams.set('schema', schema);
        databaseUrl = u.toString();
      }
      const count = pgUrl ? 2 : 1;
      // One DATA_DIR: with PostgreSQL it holds only the blobs, which the nodes of a cluster share
      // (a module registered through one node runs on the other).
      const started = await Promise.all(
        Array.from({ length: count }, () => spawnNode({ DATA_DIR: dataDir, DATABASE_URL: databaseUrl, REDIS_URL: redis!.url, WORKERS: '2' }, 120_000)),
      );
      nodes.push(...started);
      // The demo agent "hello" is registered by the first node to start on the empty database.
      await waitFor('the demo agent', async () => (await gql<{ agents: unknown[] }>(nodes[0]!, '{ agents { id } }')).agents.length > 0, { timeoutMs: 30_000, everyMs: 100 });
      for (const n of nodes) expect((await health(n)).body.status).toBe('ok');
      const subscribers = nodes.map((n) => subscribeEnds(n));
      clients.push(...subscribers.map((s) => s.client));
      await sleep(500); // let the subscriptions reach the nodes

      // ---- load: ~50 tasks/s, round robin, until told to stop ----
      const accepted: string[] = [];
      const submitErrors: string[] = [];
      let loading = true;
      const load = (async () => {
        for (let tick = 0; loading; tick++) {
          const next = sleep(TICK_MS);
          const node = nodes[tick % nodes.length]!;
          const inputs = Array.from({ length: BATCH }, (_, i) => ({ agent: 'hello', args: [`t${tick}.${i}`] }));
          try {
            const { submitTasks } = await gql<{ submitTasks: { id: string }[] }>(node, 'mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }', { inputs });
            accepted.push(...submitTasks.map((t) => t.id));
          } catch (err) {
            submitErrors.push(`${node.nodeId}: ${(err as Error).message}`);
          }
          await next;
        }
      })();

      await waitFor('tasks flowing', () => accepted.length >= 100, { timeoutMs: 30_000, everyMs: 100 });
      const beforeOutage = accepted.length;

      // ---- the outage ----
      const outageStart = Date.now();
      await redis.stop();
      const degraded: HealthReport[] = [];  // the first degraded answer of each node
      for (const n of nodes) {
        await waitFor(
          `${n.nodeId} degraded`,
          async () => {
            const h = await health(n);
            if (h.code === 200 && h.body.status === 'degraded' && h.body.checks.pubsub.state === 'down') degraded.push(h.body);
            return degraded.some((d) => d.node === n.nodeId);
          },
          { timeoutMs: 20_000, everyMs: 100 },
        );
      }
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - outageStart)));
      const duringOutage = accepted.length - beforeOutage;
      for (const n of nodes) expect(n.alive(), `${n.nodeId} alive at the end of the outage`).toBe(true);
      await redis.start();
      const outageMs = Date.now() - outageStart;
      for (const n of nodes) await waitFor(`${n.nodeId} ok again`, async () => (await health(n)).body.status === 'ok', { timeoutMs: 30_000, everyMs: 100 });
      await sleep(3_000);
      loading = false;
      await load;

      // ---- everything ended, once ----
      expect(submitErrors).toEqual([]);
      const ids = new Set(accepted);
      expect(ids.size).toBe(accepted.length);
      let tasks: TaskState[] = [];
      await waitFor(
        'every accepted task ended',
        async () => {
          tasks = await allTasks(nodes[0]!);
          return tasks.length === ids.size && tasks.every((t) => t.status === 'SUCCEEDED' || t.status === 'FAILED' || t.status === 'CANCELLED');
        },
        { timeoutMs: 90_000, everyMs: 500 },
      );
      expect(new Set(tasks.map((t) => t.id))).toEqual(ids);
      expect(tasks.filter((t) => t.status !== 'SUCCEEDED')).toEqual([]);
      expect(tasks.filter((t) => t.attempts !== 1)).toEqual([]);

      // ---- every subscriber saw every end (the gap's by the replay) ----
      const missing = () => subscribers.map((s) => accepted.filter((id) => !s.seen.has(id)).length);
      await waitFor('every subscriber saw every end', () => missing().every((m) => m === 0), { timeoutMs: 30_000, everyMs: 100 }).catch(() => {});
      expect(missing()).toEqual(subscribers.map(() => 0));
      for (const s of subscribers) expect(s.errors).toEqual([]);

      // ---- the nodes, and what they logged ----
      for (const n of nodes) expect(n.alive(), `${n.nodeId} alive`).toBe(true);
      for (const n of nodes) {
        const logs = n.logs();
        expect(n.lines.filter((l) => /unhandled|uncaught/i.test(l))).toEqual([]);
        expect(logs.filter((l) => String(l.msg).startsWith('pub/sub down'))).toHaveLength(1);
        expect(logs.filter((l) => /^pub\/sub back after [\d.]+ s, replaying$/.test(String(l.msg)))).toHaveLength(1);
      }
      const repeats = subscribers.map((s) => [...s.seen.values()].filter((c) => c > 1).length);
      const dropped = await Promise.all(nodes.map(async (n) => (await health(n)).body.checks.pubsub.droppedPublishes));
      console.log(
        `chaos/redis: ${nodes.length} node(s), outage ${(outageMs / 1000).toFixed(1)} s, ${accepted.length} tasks ` +
          `(${duringOutage} submitted during the outage), all ended once; every subscriber saw every end ` +
          `(ends seen twice, at least once being the contract: ${repeats.join(', ')}); publishes dropped: ${dropped.join(', ')}`,
      );
    });
  });
} else if (servicesRequired) {
  describe('chaos: Redis stopped for 30 s under load', () => {
    it('runs (SPINDLE_REQUIRE_SERVICES=1)', () => {
      throw new Error('redis-server is not on the PATH: the Redis chaos test cannot run');
    });
  });
}
