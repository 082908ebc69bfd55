// Soak: with 30 s retention, a node that keeps running 200 tasks a second keeps its database the
// same size. After the first minute (the retention window filled, the sweeper and vacuum in their
// rhythm), the sizes of task and task_attempt (pg_total_relation_size: heap, indexes, TOAST) vary
// by at most 10 % over the rest of the run.
//
// It runs on a PostgreSQL cluster of its own (test/helpers/pg-cluster.ts), not in a schema of the
// shared server: VACUUM reuses a deleted row's heap space only once no transaction in the same
// database may still see it, and recycles a B-tree page only once none in the whole cluster may;
// the suite's other files (migrations, locks held on purpose, long statements under load) open
// transactions on the shared server all the time. In CI's services run task_attempt once stayed
// flat for 50 s and then grew by 10.3 % at t=130 s; here, a 12 s transaction on the shared server
// grew task by 25 % in a shared database, and by 8 % (its indexes) in a database of its own. A node
// in production shares its cluster with its own work only; that is what this measures.
//
// Runs in the services pass (DATABASE_URL set), like the other PostgreSQL tests: without it, it is
// skipped, unless SPINDLE_REQUIRE_SERVICES=1, where its absence fails the suite. SOAK_RETENTION=off
// runs the same load with retention off and prints the sizes without checking them (the "off"
// figures of the closing note; not for CI).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import { describeOnPostgres } from '../helpers/chaos.js';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const RATE = 200;
const RUN_MS = 150_000;
// Samples start past the first minute. VACUUM does not truncate these tables (their size is kept
// at its high-water mark), so the samples start once that mark is reached: the retention window
// (30 s) filled, and the first sweeps (5 s apart) caught up with the rows that expired while they
// started. Under CI's parallel load that took until ~75 s once (2.29 MiB at 65 s, 2.53 at 75 s,
// then flat at 2.55 to the end).
const SETTLE_MS = 80_000;
const SAMPLE_MS = 10_000;
const retentionOn = process.env.SOAK_RETENTION !== 'off';

describeOnPostgres('soak: retention keeps the database size flat', () => {
  let s: TestServer;
  let db: pg.Client;
  let dataDir: string;
  let cluster: PgCluster;

  beforeAll(async () => {
    cluster = await startPgCluster();
    dataDir = await mkdtemp(join(tmpdir(), 'spindle-soak-'));
    const retain: Record<string, string> = retentionOn ? { RETAIN_SUCCEEDED: '30s', RETAIN_FAILED: '30s', RETAIN_CANCELLED: '30s', SWEEP_INTERVAL: '5s' } : {};
    s = await startTestServer({ WORKERS: '2', ...retain }, { storeOptions: { dataDir, databaseUrl: cluster.url } });
    await s.gqlOk(`mutation ($w: String!) { registerAgent(input: {name: "hello", wat: $w}) { id } }`, { w: DEMO_AGENT_WAT });
    db = new pg.Client({ connectionString: cluster.url });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await s?.close();
    await cluster?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const sizes = async () => {
    const [row] = (
      await db.query<{ task: string; attempt: string; tasks: string }>(
        `SELECT pg_total_relation_size('task') AS task, pg_total_relation_size('task_attempt') AS attempt, (SELECT count(*) FROM task) AS tasks`,
      )
    ).rows;
    return { task: Number(row!.task), attempt: Number(row!.attempt), tasks: Number(row!.tasks) };
  };

  it(`${RATE} tasks/s for ${RUN_MS / 1000} s: task and task_attempt vary by ≤ 10 % after the first minute`, async () => {
    const started = Date.now();
    const samples: { at: number; task: number; attempt: number; tasks: number }[] = [];
    let submitted = 0;
    let nextSample = started + SETTLE_MS;
    const inputs = (n: number) => Array.from({ length: n }, () => ({ agent: 'hello', stdin: 'soak' }));
    while (Date.now() - started < RUN_MS) {
      // Paced by the clock: whatever the last batch cost, the total keeps to RATE per second.
      const due = Math.floor(((Date.now() - started) * RATE) / 1000) - submitted;
      if (due > 0) {
        const n = Math.min(due, 500);
        await s.gqlOk(`mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }`, { inputs: inputs(n) });
        submitted += n;
      } else await sleep(50);
      if (Date.now() >= nextSample) {
        samples.push({ at: Math.round((Date.now() - started) / 1000), ...(await sizes()) });
        nextSample += SAMPLE_MS;
      }
    }
    const MiB = (b: number) => (b / 2 ** 20).toFixed(2);
    console.log(
      `soak (retention ${retentionOn ? 'on: 30 s' : 'off'}), ${submitted} tasks submitted:\n` +
        samples.map((x) => `  t=${x.at}s  task ${MiB(x.task)} MiB  task_attempt ${MiB(x.attempt)} MiB  rows ${x.tasks}`).join('\n'),
    );
    expect(submitted).toBeGreaterThan((RATE * RUN_MS) / 1000 * 0.9);
    if (!retentionOn) return;
    for (const key of ['task', 'attempt'] as const) {
      const values = samples.map((x) => x[key]);
      const [min, max] = [Math.min(...values), Math.max(...values)];
      expect((max - min) / max, `${key}: ${values.join(', ')}`).toBeLessThanOrEqual(0.1);
    }
  }, RUN_MS + 60_000);
});
