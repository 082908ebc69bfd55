// Chaos: two nodes share a PostgreSQL schema and a Redis (both their own); node A is killed with
// SIGKILL in the middle of a batch. Node B takes over A's tasks once their leases expire
// (LEASE_MS=2000): every task ends exactly once, a subscriber on B saw every end (A's, through
// Redis, and B's), and B stays up. A often dies between writing ends and publishing them (seen in
// 2 of 3 runs before B replayed a lost node's last ends): the subscriber must still see them.
import { expect, it, onTestFinished } from 'vitest';
import { spawnNode, type NodeProcess } from '../helpers/node-process.js';
import { startRedis } from '../helpers/redis-server.js';
import { chaosSchema, checkInvariants, describeOnPostgres, logSummary, readyNode, submitUntilAccepted, unhandledLines, WAIT_TASK } from '../helpers/chaos.js';
import { waitFor } from '../helpers/wait.js';

const TASKS = 300;
const PER_CALL = 50;

describeOnPostgres('chaos: a node is killed mid-batch', () => {
  it('the other node recovers its tasks: nothing lost, nothing finished twice, every end seen', { timeout: 90_000 }, async () => {
    const schema = await chaosSchema();
    onTestFinished(() => schema.drop());
    const redis = await startRedis();
    onTestFinished(() => redis.stop());
    const env = { DATABASE_URL: schema.nodeUrl(), REDIS_URL: redis.url, LEASE_MS: '2000' };
    const [a, b] = await Promise.all([spawnNode(env), spawnNode(env)]);
    onTestFinished(async () => {
      await Promise.all([a, b].map((n) => n.stop(5_000)));
    });
    const { watcher, answers, accepted } = await readyNode(b);
    onTestFinished(() => watcher.close());

    const keys = Array.from({ length: TASKS }, (_, i) => `task-${i}`);
    for (let c = 0; c < TASKS / PER_CALL; c++) {
      for (const [k, id] of await submitUntilAccepted(b.graphqlUrl, WAIT_TASK, keys.slice(c * PER_CALL, (c + 1) * PER_CALL), answers)) accepted.set(k, id);
    }
    // Mid-batch on A: it has finished some tasks and holds others (claimed, or running: a 30 ms task
    // ends before it would be marked RUNNING, so most of what A holds is claimed).
    await waitFor(
      'node A to be busy',
      async () => {
        const { rows } = await schema.db.query<{ ended: number; held: number }>(
          `SELECT (SELECT count(*)::int FROM task_attempt WHERE node = $1) AS ended,
                  (SELECT count(*)::int FROM task WHERE lease_owner = $1 AND status IN ('QUEUED', 'RETRYING', 'RUNNING')) AS held`,
          [a.nodeId],
        );
        return (rows[0]!.ended >= 20 && rows[0]!.held > 0) || undefined;
      },
      { timeoutMs: 60_000, everyMs: 20 },
    );
    a.kill('SIGKILL');
    expect(await a.exited).toMatchObject({ signal: 'SIGKILL' });

    const outcome = await checkInvariants(schema.db, accepted, watcher, 60_000);
    const byNode = await schema.db.query<{ node: string; n: number }>('SELECT node, count(*)::int AS n FROM task_attempt GROUP BY node');
    console.info(
      `chaos-kill: ${outcome.tasks.length} tasks, ${outcome.attempts} attempts (${byNode.rows.map((r) => `${r.node === a.nodeId ? 'A' : 'B'} ${r.n}`).join(', ')}), ` +
        `${outcome.retried.length} recovered from A as host_error, ${requeued(b)} of A's claimed tasks requeued, ${replayed(b)} of A's last ends replayed, ${watcher.events.length} events seen on B; B logged:`,
      logSummary(b.logs()),
    );
    expect(outcome.problems).toEqual([]);
    expect(outcome.tasks.length).toBe(TASKS + 1);
    // A's held tasks came back: running ones as host_error attempts, claimed ones to the queue.
    expect(outcome.retried.length + requeued(b)).toBeGreaterThan(0);
    expect(watcher.problems).toEqual([]);
    expect(b.alive()).toBe(true);
    expect(unhandledLines(b.lines)).toEqual([]);
  });
});

const requeued = (node: NodeProcess) => node.logs().filter((l) => l.msg === 'executor: a claimed task whose lease expired went back to the queue').length;

const replayed = (node: NodeProcess) =>
  node
    .logs()
    .filter((l) => l.msg === 'executor: replayed the last ends of a lost node')
    .reduce((n, l) => n + Number(l.tasks), 0);
