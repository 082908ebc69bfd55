// Chaos: the link between a node and PostgreSQL is cut for 10 s (a TCP proxy in between resets
// every connection and refuses new ones), while a client keeps submitting with idempotency keys
// and tasks are running. The outage contract: every submit meanwhile answers 503 UNAVAILABLE with
// Retry-After, never 500 or INTERNAL_SERVER_ERROR; the client retries each with the same key; once
// the link is back, every accepted key is one task that ends exactly once, the subscriber saw every
// end, and the node process never went down.
import { expect, it, onTestFinished } from 'vitest';
import { spawnNode } from '../helpers/node-process.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { chaosSchema, checkInvariants, describeOnPostgres, logSummary, readyNode, submitUntilAccepted, unhandledLines, WAIT_TASK } from '../helpers/chaos.js';
import { sleep } from '../helpers/wait.js';

const CUT_MS = 10_000;
const LANES = 2;
/** Keys per submitTasks call: more than two workers run in the time, so a backlog is queued and running when the cut comes. */
const PER_CALL = 5;

describeOnPostgres('chaos: the database link is cut', () => {
  it('answers 503 UNAVAILABLE with Retry-After meanwhile, and loses and repeats nothing', { timeout: 90_000 }, async () => {
    const schema = await chaosSchema();
    onTestFinished(() => schema.drop());
    const proxy = await startTcpProxy({ host: new URL(process.env.DATABASE_URL!).hostname, port: Number(new URL(process.env.DATABASE_URL!).port || 5432) });
    onTestFinished(() => proxy.close());
    // QUOTA_RUNNING_TASKS puts a cap in force (far above 2 workers): claims then run in a transaction,
    // the path whose checked-out connection once killed the process when the link broke.
    const node = await spawnNode({ DATABASE_URL: schema.nodeUrl({ port: proxy.port }), LEASE_MS: '5000', QUOTA_RUNNING_TASKS: '1000' });
    onTestFinished(() => node.stop(5_000));
    const { watcher, answers, accepted } = await readyNode(node);
    onTestFinished(() => watcher.close());

    // Each lane submits a few keyed tasks at a time, retrying them (same keys) until accepted.
    let submitting = true;
    const lanes = Array.from({ length: LANES }, async (_, lane) => {
      for (let i = 0; submitting; i++) {
        const keys = Array.from({ length: PER_CALL }, (_, j) => `lane${lane}-${i}-${j}`);
        for (const [k, id] of await submitUntilAccepted(node.graphqlUrl, WAIT_TASK, keys, answers, { deadlineMs: CUT_MS + 30_000 })) accepted.set(k, id);
        await sleep(50);
      }
    });
    await sleep(2_000);
    const cutAt = Date.now();
    proxy.cut();
    await sleep(CUT_MS);
    proxy.restore();
    const restoredAt = Date.now();
    await sleep(2_000);
    submitting = false;
    await Promise.all(lanes);

    // The contract while the database was away.
    const refused = answers.filter((a) => a.status !== 200);
    expect(refused.length).toBeGreaterThanOrEqual(LANES);
    for (const a of refused) expect(a).toMatchObject({ status: 503, code: 'UNAVAILABLE', retryAfter: '5' });
    expect(refused.every((a) => a.at >= cutAt)).toBe(true);
    expect(answers.some((a) => a.status === 200 && a.at > restoredAt)).toBe(true);

    const outcome = await checkInvariants(schema.db, accepted, watcher, 60_000);
    console.info(
      `chaos-db-proxy: ${accepted.size} keys accepted, ${refused.length} answers 503 during a ${CUT_MS / 1000} s cut, ` +
        `${outcome.tasks.length} tasks, ${outcome.attempts} attempts, ${watcher.events.length} events seen, warnings and errors logged:`,
      logSummary(node.logs()),
      outcome.retried,
    );
    expect(outcome.problems).toEqual([]);
    expect(outcome.tasks.length).toBe(accepted.size);
    expect(watcher.problems).toEqual([]);
    expect(node.alive()).toBe(true);
    expect(unhandledLines(node.lines)).toEqual([]);
  });
});
