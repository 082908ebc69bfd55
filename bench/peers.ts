/**
 * The peers: pg-boss and BullMQ doing the e2e suite's work with the e2e suite's method, against the
 * same PostgreSQL and Redis, in the same invocation (run.ts wraps the e2e suite with `withPeers`),
 * so the ratios compare runs that saw the same machine.
 *
 * Each peer's worker runs the e2e suite's hello module (HELLO_WAT) through Spindle's own runtime in
 * this process, with a Spindle node's default worker count: the work per job is identical, only the
 * queue differs. Jobs carry a small payload; every job's result is stored (pg-boss: the job's
 * completion output; BullMQ: its return value, completed jobs kept).
 *
 * - Throughput: 20,000 jobs enqueued in batches of 100 (4 batches in flight, as e2e) after a
 *   warm-up of WARM_UP_TASKS jobs (bench/lib.ts); first enqueue → last result stored (the
 *   worker's store resolved).
 * - Latency: 200 jobs/s offered open-loop for 10 s as single enqueues, after the same warm-up,
 *   WARM_UP_TASKS single enqueues one at a time, and 2 s at that rate; enqueue → completion
 *   seen. BullMQ: a QueueEvents 'completed' event (the producer's side). pg-boss 10 has no
 *   completion notification, so: the worker's complete() resolved (its commit done), the
 *   earliest a producer could learn it; polling getJobById would only add.
 *
 * Each phase gets a fresh queue (pg-boss: a fresh schema, dropped afterwards; BullMQ: a unique key
 * prefix, obliterated afterwards); a failed phase or an unreachable service records NaN with a note.
 * Also measured: the RSS of idle Spindle nodes (bench/server.mjs) 30 s after they started, one node at a time.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { postgresUrl, startServer } from './e2e.js';
import { percentile, sleep, sorted, WARM_UP_TASKS, type Metric, type Suite } from './lib.js';
import { BULLMQ, PGBOSS, Tally, bullMq, makeHello, pgBoss, type MakePeer, type Peer } from './peer-queues.js';

const TOTAL = 20_000;
const BATCH = 100;
const BATCHES_IN_FLIGHT = 4;
const LATENCY_RATE = 200;
const LATENCY_SECONDS = 10;
const IDLE_SECONDS = 30;
const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

const log = (msg: string) => console.error(`  ${msg}`);
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

// ---------- phases ----------

async function waitFor(cond: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`${what()} after ${timeoutMs / 1000} s`);
    await sleep(5);
  }
}

/** Enqueue `total` jobs in batches, a few batches in flight; jobs/s to the last result stored. */
async function throughput(peer: Peer, tally: Tally, total: number, progress: boolean): Promise<number> {
  tally.reset(false);
  const start = performance.now();
  let enqueued = 0;
  const ticker = progress ? setInterval(() => log(`  ${((performance.now() - start) / 1000).toFixed(0)} s: enqueued ${enqueued}, stored ${tally.stored}`), 2_000) : undefined;
  try {
    const producer = async () => {
      while (enqueued < total) {
        enqueued += BATCH;
        await peer.enqueueBatch(BATCH);
      }
    };
    await Promise.all(Array.from({ length: BATCHES_IN_FLIGHT }, producer));
    await waitFor(() => tally.stored >= total, 180_000, () => `only ${tally.stored}/${total} stored`);
    return (total / (tally.lastStoredAt - start)) * 1000;
  } finally {
    clearInterval(ticker);
  }
}

/** `n` single enqueues, one at a time, to the last result stored: the latency phase's path, warmed (see WARM_UP_TASKS). */
async function singles(peer: Peer, tally: Tally, n: number): Promise<void> {
  tally.reset(false);
  for (let i = 0; i < n; i++) await peer.enqueue();
  await waitFor(() => tally.stored >= n, 180_000, () => `only ${tally.stored}/${n} stored`);
}

interface Latency {
  samples: number[];
  lost: number;
  errors: number;
}

/** Offer `rate` jobs/s open-loop (one enqueue each) for `seconds`; enqueue → completion seen. */
async function latency(peer: Peer, tally: Tally, rate: number, seconds: number): Promise<Latency> {
  tally.reset(true);
  const total = rate * seconds;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  let errors = 0;
  for (let i = 0; i < total; i++) {
    // Open loop: each job goes at its due time whatever happened to the earlier ones.
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0.5) await sleep(wait);
    const t0 = performance.now();
    inflight.push(
      peer.enqueue().then(
        (id) => tally.sent(id, t0),
        (err: unknown) => {
          if (errors++ === 0) log(`  first enqueue error: ${message(err)}`);
        },
      ),
    );
  }
  await Promise.all(inflight);
  const deadline = performance.now() + 10_000;
  while (tally.samples.length + errors < total && performance.now() < deadline) await sleep(20);
  const samples = sorted(tally.samples);
  return { samples, lost: total - samples.length - errors, errors };
}

/** CPU time of this process (producer, peer, runtime workers), in ms. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Runs one phase on a fresh queue with a fresh runtime; a failure becomes `{ error }`. */
async function phase<T>(label: string, make: MakePeer, body: (peer: Peer, tally: Tally) => Promise<T>): Promise<T | { error: string }> {
  log(`${label}: starting`);
  const hello = await makeHello();
  const tally = new Tally();
  let peer: Peer | null = null;
  try {
    peer = await make(hello, tally);
    return await body(peer, tally);
  } catch (err) {
    log(`${label}: FAILED: ${message(err)}`);
    return { error: message(err) };
  } finally {
    await peer?.close().catch((err: unknown) => log(`${label}: close failed: ${message(err)}`));
    await hello.close();
  }
}

const failed = (x: unknown): x is { error: string } => typeof x === 'object' && x !== null && 'error' in x;

async function measure(name: string, make: MakePeer) {
  const tput = await phase(`${name}-throughput`, make, async (peer, tally) => {
    await throughput(peer, tally, WARM_UP_TASKS, false);
    const cpu0 = cpuMs();
    const perSecond = await throughput(peer, tally, TOTAL, true);
    const cpuUs = ((cpuMs() - cpu0) * 1000) / TOTAL;
    log(`${name}: ${perSecond.toFixed(0)} jobs/s (${TOTAL} jobs), bench process CPU ${cpuUs.toFixed(0)} µs per job`);
    return { perSecond, cpuUs };
  });
  const lat = await phase(`${name}-latency`, make, async (peer, tally) => {
    await throughput(peer, tally, WARM_UP_TASKS, false);
    await singles(peer, tally, WARM_UP_TASKS);
    await latency(peer, tally, LATENCY_RATE, 2); // warm-up at the measured rate, discarded
    const result = await latency(peer, tally, LATENCY_RATE, LATENCY_SECONDS);
    log(`${name}: p50 ${percentile(result.samples, 50).toFixed(1)} ms, p99 ${percentile(result.samples, 99).toFixed(1)} ms (${result.samples.length} samples, ${result.lost} lost, ${result.errors} errors)`);
    return result;
  });
  return { tput, lat };
}

function peerMetrics(prefix: string, m: Awaited<ReturnType<typeof measure>> | string, settings: string, seenBy: string): Metric[] {
  const tputNote = typeof m === 'string' ? m : failed(m.tput) ? `failed: ${m.tput.error}` : `${settings}; ×${BATCH} (${BATCHES_IN_FLIGHT} in flight) → result stored, ${TOTAL} jobs`;
  const latNote = typeof m === 'string' ? m : failed(m.lat) ? `failed: ${m.lat.error}` : `enqueue → ${seenBy} at ${LATENCY_RATE}/s offered`;
  const tput = typeof m === 'string' || failed(m.tput) ? null : m.tput;
  const lat = typeof m === 'string' || failed(m.lat) ? null : m.lat;
  return [
    { name: `${prefix}_tasks_per_s`, value: tput?.perSecond ?? NaN, unit: 'tasks/s', note: tputNote },
    { name: `${prefix}_cpu_us_per_task`, value: tput?.cpuUs ?? NaN, unit: 'µs CPU', note: tput ? 'this process (producer, peer, runtime workers); the database or Redis not counted' : tputNote },
    { name: `${prefix}_latency_p50_ms`, value: lat ? percentile(lat.samples, 50) : NaN, unit: 'ms', note: latNote },
    { name: `${prefix}_latency_p99_ms`, value: lat ? percentile(lat.samples, 99) : NaN, unit: 'ms', note: lat ? `${lat.samples.length} samples, ${lat.lost} lost, ${lat.errors} errors` : latNote },
  ];
}

// ---------- idle memory ----------

/** VmRSS of a process, in MiB. */
function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

/** RSS of a Spindle node (bench/server.mjs) left idle for IDLE_SECONDS after it was ready. */
async function idleRssMb(databaseUrl: string | undefined, label: string): Promise<number | { error: string }> {
  try {
    const server = await startServer(databaseUrl, label);
    try {
      await sleep(IDLE_SECONDS * 1000);
      return rssMb(server.pid);
    } finally {
      await server.close();
    }
  } catch (err) {
    return { error: message(err) };
  }
}

function rssMetric(name: string, r: number | { error: string } | string, db: string, target?: string): Metric {
  const note = typeof r === 'string' ? r : failed(r) ? `failed: ${r.error}` : `${db} node (bench/server.mjs over dist/, as npm start runs it; LOG_LEVEL as e2e), VmRSS ${IDLE_SECONDS} s after ready, no request served`;
  return { name, value: typeof r === 'number' ? r : NaN, unit: 'MiB', target, note };
}

// ---------- the suite ----------

async function redisUrl(): Promise<string | null> {
  const url = process.env.REDIS_URL ?? DEFAULT_REDIS;
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await client.connect();
    await client.ping();
    return url;
  } catch {
    return null;
  } finally {
    client.disconnect();
  }
}

/** The peers' figures and the idle nodes' RSS, in this invocation. */
export async function measurePeers(): Promise<Metric[]> {
  const [pgUrl, redis] = await Promise.all([postgresUrl(), redisUrl()]);
  log(`idle nodes: ${IDLE_SECONDS} s each, one at a time`);
  // One at a time: two nodes starting side by side contend for the 2 cores, and a PGlite node's
  // glibc heap then kept up to 30 MiB more (258 MiB against 227 alone, same build, same hour).
  const liteRss = await idleRssMb(undefined, 'pglite-idle');
  const pgRss = pgUrl ? await idleRssMb(pgUrl, 'pg-idle') : 'PostgreSQL not reachable: set DATABASE_URL';
  const boss = pgUrl ? await measure('pg-boss', pgBoss(pgUrl)) : 'PostgreSQL not reachable: set DATABASE_URL';
  const bull = redis ? await measure('BullMQ', bullMq(redis)) : 'Redis not reachable: set REDIS_URL';
  const bossSettings = `pg-boss ${PGBOSS.version}, ${PGBOSS.workers} fetch loops, batchSize ${PGBOSS.batchSize}, refetch at once, idle ≤ ${PGBOSS.pollingIntervalSeconds} s or woken by a send`;
  return [
    ...peerMetrics('pgboss', boss, bossSettings, "the worker's complete() resolved"),
    ...peerMetrics('bullmq', bull, `BullMQ ${BULLMQ.version}, concurrency ${BULLMQ.concurrency}`, "QueueEvents 'completed'"),
    rssMetric('pglite_idle_rss_mb', liteRss, 'PGlite', '≤ 250'),
    rssMetric('pg_idle_rss_mb', pgRss, 'PostgreSQL'),
  ];
}

export const PEERS_SETUP = {
  peers: `pg-boss ${PGBOSS.version} (${PGBOSS.workers} fetch loops, batchSize ${PGBOSS.batchSize}, idle ≤ ${PGBOSS.pollingIntervalSeconds} s or woken by a send), BullMQ ${BULLMQ.version} (concurrency ${BULLMQ.concurrency}); hello through Spindle's runtime in the bench process, ${os.availableParallelism()} workers`,
  peerJobs: TOTAL,
  peerLatencyRate: LATENCY_RATE,
  peerLatencySeconds: LATENCY_SECONDS,
};

/** `npm run bench peers`: the peers alone, for iterating (bench/results/peers.json). */
export const peersSuite: Suite = { name: 'peers', setup: PEERS_SETUP, run: measurePeers };

/** A figure's value by name, NaN when absent. */
const valueOf = (metrics: Metric[], name: string) => metrics.find((m) => m.name === name)?.value ?? NaN;

/**
 * The e2e suite followed by the peers in the same invocation, with Spindle's PostgreSQL throughput
 * over each peer's from this one run.
 */
export function withPeers(e2e: Suite): Suite {
  return {
    name: e2e.name,
    setup: { ...e2e.setup, ...PEERS_SETUP },
    async run() {
      const spindle = await e2e.run();
      const peers = await measurePeers();
      const ours = valueOf(spindle, 'e2e_pg_tasks_per_s');
      const ratio = (name: string, peer: string, target?: string): Metric => ({
        name,
        value: ours / valueOf(peers, peer),
        unit: 'ratio',
        target,
        note: `e2e_pg_tasks_per_s ÷ ${peer}, same run`,
      });
      return [...spindle, ...peers, ratio('e2e_pg_over_pgboss', 'pgboss_tasks_per_s', '≥ 1.2'), ratio('e2e_pg_over_bullmq', 'bullmq_tasks_per_s')];
    },
  };
}
