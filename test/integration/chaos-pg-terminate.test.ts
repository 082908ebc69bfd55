// Chaos: PostgreSQL terminates every connection of a node (pg_terminate_backend, as an operator or
// a failover would) three times while a batch of a few hundred tasks is being claimed, run and
// written. The node's pools reconnect, failed claims, heartbeats and result writes are retried,
// and every task ends exactly once; the subscriber sees every end; the process stays up.
// Only this node's connections are terminated: they carry its own application_name.
import { expect, it, onTestFinished } from 'vitest';
import { spawnNode } from '../helpers/node-process.js';
import {
  chaosSchema,
  checkInvariants,
  describeOnPostgres,
  logSummary,
  readyNode,
  submitUntilAccepted,
  unhandledLines,
  WAIT_TASK,
  type ChaosSchema,
} from '../helpers/chaos.js';
import { sleep, waitFor } from '../helpers/wait.js';

const TASKS = 300;
const PER_CALL = 50;
const TERMINATIONS = 3;

describeOnPostgres('chaos: PostgreSQL terminates the node’s connections', () => {
  it('mid-batch, three times: nothing is lost or finished twice, and the node lives on', { timeout: 90_000 }, async () => {
    const schema = await chaosSchema();
    onTestFinished(() => schema.drop());
    const applicationName = `spindle-chaos-${schema.schema}`;
    // LEASE_MS small: a claim whose answer was lost leaves tasks leased to no run; they come back soon.
    const node = await spawnNode({ DATABASE_URL: schema.nodeUrl({ applicationName }), LEASE_MS: '3000' });
    onTestFinished(() => node.stop(5_000));
    const { watcher, answers, accepted } = await readyNode(node);
    onTestFinished(() => watcher.close());

    const keys = Array.from({ length: TASKS }, (_, i) => `task-${i}`);
    const submits = Promise.all(
      Array.from({ length: TASKS / PER_CALL }, async (_, c) => {
        const ids = await submitUntilAccepted(node.graphqlUrl, WAIT_TASK, keys.slice(c * PER_CALL, (c + 1) * PER_CALL), answers);
        for (const [k, id] of ids) accepted.set(k, id);
      }),
    );

    const terminated: number[] = [];
    for (let i = 0; i < TERMINATIONS; i++) {
      // Mid-batch: some tasks ended, many still to run.
      const ended = (TASKS * (i + 1)) / (TERMINATIONS + 2);
      await waitFor(`${ended} tasks to end`, async () => (await countEnded(schema)) >= ended || undefined, { timeoutMs: 60_000, everyMs: 200 });
      const { rows } = await schema.db.query<{ pid: number }>(
        'SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
        [applicationName],
      );
      terminated.push(rows.length);
      await sleep(300);
    }
    await submits;

    const outcome = await checkInvariants(schema.db, accepted, watcher, 60_000);
    const refused = answers.filter((a) => a.status !== 200);
    console.info(
      `chaos-pg-terminate: terminated ${terminated.join(' + ')} connections; ${accepted.size} keys accepted (${refused.length} answers 503), ` +
        `${outcome.tasks.length} tasks, ${outcome.attempts} attempts, ${watcher.events.length} events seen, warnings and errors logged:`,
      logSummary(node.logs()),
      outcome.retried,
    );
    expect(terminated.every((n) => n > 0)).toBe(true);
    for (const a of refused) expect(a).toMatchObject({ status: 503, code: 'UNAVAILABLE', retryAfter: '5' });
    expect(outcome.problems).toEqual([]);
    expect(outcome.tasks.length).toBe(TASKS + 1);
    expect(watcher.problems).toEqual([]);
    expect(node.alive()).toBe(true);
    expect(unhandledLines(node.lines)).toEqual([]);
  });
});

async function countEnded(schema: ChaosSchema): Promise<number> {
  const { rows } = await schema.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM task WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')`);
  return rows[0]!.n;
}
