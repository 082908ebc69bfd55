/**
 * Fan-out: what each open subscription costs the server. The e2e throughput measurement (hello
 * tasks, submitTasks ×100, 4 batches in flight → SUCCEEDED event) on a fresh server with 1, then
 * with 100, extra open unfiltered `taskEvents { taskId status attempt }` subscriptions. Each is a
 * graphql-ws client of its own on its own WebSocket (as 100 dashboards would be), in this process,
 * receiving and parsing every message; each must have seen every task's SUCCEEDED before the server's
 * CPU is read, so the figure holds all the work of sending to them.
 *
 * `fanout_100_cpu_ratio` = server CPU per task with 100 subscribers ÷ with 1 (target ≤ 2). PostgreSQL
 * only (the setting); BENCH_FANOUT_TASKS sets the tasks per phase (default 10,000).
 */
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { WARM_UP_TASKS, type Metric, type Suite } from './lib.js';

/**
 * What this phase uses of bench/e2e.ts, handed in by its callers (e2e.ts's suite, run.ts): e2e.ts
 * runs this phase, so an import back would be a cycle.
 */
export interface E2eKit {
  phase<T>(databaseUrl: string | undefined, label: string, body: (conn: Conn, server: Server) => Promise<T>): Promise<T | { error: string }>;
  throughput(conn: Conn, total: number, inFlight?: number, progress?: boolean): Promise<number>;
  postgresUrl(): Promise<string | null>;
}
interface Conn {
  gql<T = unknown>(query: string, variables?: Record<string, unknown>): Promise<T>;
}
interface Server {
  urls: { wsUrl: string };
  cpuMs(): number;
}
const failed = (x: unknown): x is { error: string } => typeof x === 'object' && x !== null && 'error' in x;

const TASKS = Number(process.env.BENCH_FANOUT_TASKS) || 10_000;
const COUNTS = [1, 100] as const;
const SUBSCRIPTION = 'subscription { taskEvents { taskId status attempt } }';
const DRAIN_TIMEOUT_MS = Number(process.env.BENCH_FANOUT_DRAIN_MS) || 120_000;

const log = (msg: string) => console.error(`  ${msg}`);

interface Subscriber {
  client: Client;
  /** SUCCEEDED events received. */
  succeeded: number;
  messages: number;
}

/** `n` clients, one subscription each; resolves once every one has received an event (they are live). */
async function openSubscribers(conn: Conn, wsUrl: string, n: number): Promise<Subscriber[]> {
  const subs: Subscriber[] = [];
  for (let i = 0; i < n; i++) {
    const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
    const sub: Subscriber = { client, succeeded: 0, messages: 0 };
    client.subscribe<{ taskEvents: { taskId: string; status: string } }>(
      { query: SUBSCRIPTION },
      {
        next: (r) => {
          sub.messages++;
          if (r.data?.taskEvents.status === 'SUCCEEDED') sub.succeeded++;
        },
        error: (err) => log(`fan-out subscriber error: ${err instanceof Error ? err.message : JSON.stringify(err)}`),
        complete: () => {},
      },
    );
    subs.push(sub);
  }
  const deadline = performance.now() + 30_000;
  while (subs.some((s) => s.messages === 0)) {
    if (performance.now() > deadline) throw new Error('fan-out subscribers not live within 30 s');
    await conn.gql(`mutation { submitTask(input: { agent: "hello" }) { id } }`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return subs;
}

async function drained(subs: Subscriber[], expected: number[]): Promise<void> {
  const deadline = performance.now() + DRAIN_TIMEOUT_MS;
  while (subs.some((s, i) => s.succeeded < expected[i]!)) {
    if (performance.now() > deadline) {
      const behind = subs.findIndex((s, i) => s.succeeded < expected[i]!);
      throw new Error(`subscriber ${behind} has ${subs[behind]!.succeeded}/${expected[behind]} SUCCEEDED after ${DRAIN_TIMEOUT_MS / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Run {
  perSecond: number;
  cpuUs: number;
}

async function withSubscribers({ phase, throughput }: E2eKit, databaseUrl: string, n: number): Promise<Run | { error: string }> {
  return phase(databaseUrl, `pg-fanout-${n}`, async (conn: Conn, server: Server) => {
    const subs = await openSubscribers(conn, server.urls.wsUrl, n);
    try {
      const before = subs.map((s) => s.succeeded);
      await throughput(conn, WARM_UP_TASKS, 4, false); // warm-up, as the e2e phase
      await drained(subs, before.map((b) => b + WARM_UP_TASKS));
      const base = subs.map((s) => s.succeeded);
      const cpu0 = server.cpuMs();
      const perSecond = await throughput(conn, TASKS);
      await drained(subs, base.map((b) => b + TASKS));
      const cpuUs = ((server.cpuMs() - cpu0) * 1000) / TASKS;
      log(`PostgreSQL, ${n} subscribers: ${perSecond.toFixed(0)} tasks/s, server CPU ${cpuUs.toFixed(0)} µs per task`);
      return { perSecond, cpuUs };
    } finally {
      await Promise.all(subs.map((s) => s.client.dispose()));
    }
  });
}

/** The fan-out figures (PostgreSQL); NaN with a note when it is unreachable or a phase failed. */
export async function fanoutMetrics(kit: E2eKit): Promise<Metric[]> {
  const url = await kit.postgresUrl();
  const runs = new Map<number, Run | { error: string }>();
  for (const n of COUNTS) runs.set(n, url ? await withSubscribers(kit, url, n) : { error: 'PostgreSQL not reachable: set DATABASE_URL' });
  const one = runs.get(1)!;
  const hundred = runs.get(100)!;
  const note = (r: Run | { error: string }, text: string) => (failed(r) ? `failed: ${r.error}` : text);
  const setting = `PostgreSQL, ${TASKS} hello tasks, submitTasks ×100 (4 in flight)`;
  const metrics: Metric[] = [];
  for (const [n, r] of runs) {
    metrics.push(
      { name: `fanout_${n}_tasks_per_s`, value: failed(r) ? NaN : r.perSecond, unit: 'tasks/s', note: note(r, `${setting}, ${n} extra unfiltered taskEvents subscribers (one WebSocket each)`) },
      { name: `fanout_${n}_cpu_us_per_task`, value: failed(r) ? NaN : r.cpuUs, unit: 'µs CPU', note: note(r, 'server process (all threads) per task, until every subscriber had every SUCCEEDED') },
    );
  }
  const ratio = failed(one) || failed(hundred) ? NaN : hundred.cpuUs / one.cpuUs;
  metrics.push({ name: 'fanout_100_cpu_ratio', value: ratio, unit: '×', target: '≤ 2', note: 'server CPU per task with 100 subscribers ÷ with 1, same run' });
  return metrics;
}

export const makeFanoutSuite = (kit: E2eKit): Suite => ({
  name: 'fanout',
  setup: { serverProcess: 'bench/server.mjs over dist/ (separate process)', tasks: TASKS, subscribers: COUNTS, subscription: SUBSCRIPTION, connections: 'one per subscriber' },
  run: () => fanoutMetrics(kit),
});
