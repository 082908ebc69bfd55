/**
 * The peers' side of bench/peers.ts: the work of one job (hello through Spindle's runtime), what a
 * phase observes (Tally), and pg-boss and BullMQ set up for one phase each, behind one small
 * interface (Peer), so the phases there drive both the same way.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import PgBoss from 'pg-boss';
import { makeRuntime } from '../src/runtime/index.js';
import { runRequest, sha256Hex, watToWasm } from '../test/helpers/fixtures.js';
import { dropSchema } from '../test/helpers/store.js';
import { HELLO_WAT } from './e2e.js';

const QUEUE = 'hello';

/** The settings the issue measured with (pg-boss 12: localConcurrency 2, batchSize 100); versions as pinned in package.json. */
export const PGBOSS = { version: '10.4.2', workers: 2, batchSize: 100, pollingIntervalSeconds: 0.5 };
export const BULLMQ = { version: '6.7.0', concurrency: 24 };

const log = (msg: string) => console.error(`  ${msg}`);

// ---------- the work of one job ----------

export interface Hello {
  /** Runs hello once; what the job stores as its result. */
  run(): Promise<{ exitCode: number | null; stdout: string }>;
  close(): Promise<void>;
}

/** HELLO_WAT through Spindle's runtime, as many workers as a node starts by default (WORKERS). */
export async function makeHello(): Promise<Hello> {
  const bytes = await watToWasm(HELLO_WAT, 'hello.wat');
  const module = { digest: sha256Hex(bytes), bytes };
  const rt = makeRuntime({ workers: os.availableParallelism() });
  await rt.prepare(module);
  const request = runRequest(module);
  return {
    async run() {
      const o = await rt.run(request);
      if (o.kind !== 'exited') throw new Error(`hello ended as ${o.kind}: ${o.error}`);
      return { exitCode: o.exitCode, stdout: Buffer.from(o.stdout).toString('utf8') };
    },
    close: () => rt.close(),
  };
}

// ---------- what a phase observes ----------

/**
 * Completions as the bench sees them: `stored` when a job's result is stored (throughput),
 * `seen` when the producer's side learns of it (latency, paired with the enqueue time by `sent`).
 */
export class Tally {
  stored = 0;
  lastStoredAt = 0;
  readonly samples: number[] = [];
  private timing = false;
  private readonly sentAt = new Map<string, number>();
  private readonly early = new Map<string, number>(); // seen before its enqueue call returned

  reset(timing: boolean): void {
    this.stored = 0;
    this.samples.length = 0;
    this.timing = timing;
    this.sentAt.clear();
    this.early.clear();
  }

  onStored = (): void => {
    this.stored++;
    this.lastStoredAt = performance.now();
  };

  onSeen = (id: string): void => {
    if (!this.timing) return;
    const at = performance.now();
    const t0 = this.sentAt.get(id);
    if (t0 === undefined) this.early.set(id, at);
    else {
      this.sentAt.delete(id);
      this.samples.push(at - t0);
    }
  };

  sent(id: string, t0: number): void {
    const at = this.early.get(id);
    if (at === undefined) this.sentAt.set(id, t0);
    else {
      this.early.delete(id);
      this.samples.push(at - t0);
    }
  }
}

/** One queue system, set up for one phase. */
export interface Peer {
  enqueueBatch(size: number): Promise<void>;
  /** Enqueues one job; resolves with its id. */
  enqueue(): Promise<string>;
  close(): Promise<void>;
}

export type MakePeer = (hello: Hello, tally: Tally) => Promise<Peer>;

let seq = 0;
let queues = 0;
const payload = () => ({ agent: 'hello', seq: seq++ });

// ---------- the peers ----------

/**
 * pg-boss on a fresh schema, at its best: PGBOSS.workers fetch loops (pg-boss 12's localConcurrency),
 * each fetching PGBOSS.batchSize jobs and fetching again at once while jobs come back. pg-boss 10's
 * own `work()` waits out its polling interval (0.5 s at least) after every batch that took less,
 * which caps it at workers × batchSize / 0.5 s = 400 jobs/s here; an idle loop sleeps up to that
 * interval, but a send from this process wakes it (what `notifyWorker` does for `work()`). Each job
 * is completed with its own output: pg-boss stores one output per completion call.
 */
export function pgBoss(url: string): MakePeer {
  return async (hello, tally) => {
    const schema = `bench_pgboss_${process.pid}_${queues++}`;
    const boss = new PgBoss({ connectionString: url, schema });
    boss.on('error', (err: Error) => log(`pg-boss: ${err.message}`));
    let stopping = false;
    const idle = new Set<() => void>();
    const wake = () => {
      for (const resolve of idle) resolve();
      idle.clear();
    };
    const loops: Promise<void>[] = [];
    const close = async () => {
      stopping = true;
      wake();
      await Promise.all(loops);
      await boss.stop({ graceful: false, wait: true }).catch((err: Error) => log(`pg-boss stop: ${err.message}`));
      await dropSchema(url, schema).catch((err: Error) => log(`dropping ${schema} failed: ${err.message}`));
    };
    const loop = async () => {
      while (!stopping) {
        let jobs: PgBoss.Job<object>[] = [];
        try {
          jobs = await boss.fetch<object>(QUEUE, { batchSize: PGBOSS.batchSize });
          await Promise.all(
            jobs.map(async (job) => {
              await boss.complete(QUEUE, job.id, await hello.run());
              tally.onStored();
              tally.onSeen(job.id);
            }),
          );
        } catch (err) {
          if (!stopping) log(`pg-boss loop: ${(err as Error).message}`);
        }
        if (jobs.length === 0 && !stopping) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => idle.delete(done) && resolve(), PGBOSS.pollingIntervalSeconds * 1000);
            const done = () => {
              clearTimeout(timer);
              resolve();
            };
            idle.add(done);
          });
        }
      }
    };
    try {
      await boss.start();
      await boss.createQueue(QUEUE);
      for (let i = 0; i < PGBOSS.workers; i++) loops.push(loop());
    } catch (err) {
      await close();
      throw err;
    }
    return {
      enqueueBatch: async (size) => {
        await boss.insert(Array.from({ length: size }, () => ({ name: QUEUE, data: payload() })));
        wake();
      },
      enqueue: async () => {
        const id = (await boss.send(QUEUE, payload()))!;
        wake();
        return id;
      },
      close,
    };
  };
}

/** BullMQ under a unique key prefix: one worker of BULLMQ.concurrency, completed jobs (results) kept. */
export function bullMq(url: string): MakePeer {
  return async (hello, tally) => {
    const prefix = `bench-bullmq-${process.pid}-${queues++}`;
    const connections: Redis[] = [];
    const connection = () => {
      const c = new Redis(url, { maxRetriesPerRequest: null });
      connections.push(c);
      return c;
    };
    const queue = new Queue(QUEUE, { connection: connection(), prefix });
    const events = new QueueEvents(QUEUE, { connection: connection(), prefix });
    const worker = new Worker(QUEUE, () => hello.run(), { connection: connection(), prefix, concurrency: BULLMQ.concurrency });
    worker.on('completed', tally.onStored);
    worker.on('error', (err) => log(`bullmq worker: ${err.message}`));
    events.on('completed', ({ jobId }) => tally.onSeen(jobId));
    const close = async () => {
      await worker.close().catch((err: Error) => log(`bullmq worker close: ${err.message}`));
      await events.close().catch(() => {});
      await queue.obliterate({ force: true }).catch((err: Error) => log(`obliterating ${prefix} failed: ${err.message}`));
      await queue.close().catch(() => {});
      for (const c of connections) c.disconnect();
    };
    try {
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);
    } catch (err) {
      await close();
      throw err;
    }
    return {
      enqueueBatch: async (size) => {
        await queue.addBulk(Array.from({ length: size }, () => ({ name: QUEUE, data: payload() })));
      },
      enqueue: async () => (await queue.add(QUEUE, payload())).id!,
      close,
    };
  };
}
