// API_STATEMENT_TIMEOUT_MS on PostgreSQL: an API statement that runs past it fails the request
// with STATEMENT_TIMEOUT (never INTERNAL_SERVER_ERROR); one within it answers; the executor's
// statements carry no limit. A statement is made to wait by a table lock held from a connection
// of the test's own.
//
// PostgreSQL only (PGlite cannot enforce statement_timeout). Without DATABASE_URL it is skipped,
// unless SPINDLE_REQUIRE_SERVICES=1, where its absence fails the suite.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import { makeLogger } from '../../src/server/logger.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { databaseUrl, dropSchema } from '../helpers/store.js';

const LIMIT_MS = 1000;
const servicesRequired = process.env.SPINDLE_REQUIRE_SERVICES === '1';

// Registered (and skipped) without PostgreSQL, so the embedded pass still sees the file.
const url = databaseUrl ?? '';
describe.skipIf(!databaseUrl)(`API_STATEMENT_TIMEOUT_MS=${LIMIT_MS} on PostgreSQL`, () => {
  let s: TestServer;
  let dataDir: string;
  /** What the node logs at warn and above, one JSON line each. */
  const logged: string[] = [];
  const schema = `t_${randomBytes(6).toString('hex')}`;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'spindle-timeout-'));
    s = await startTestServer(
      {},
      {
        storeOptions: { dataDir, databaseUrl: url, pgSchema: schema, apiStatementTimeoutMs: LIMIT_MS },
        logger: makeLogger({ logLevel: 'warn', nodeId: 'timeout' }, { write: (line: string) => void logged.push(line) }),
      },
    );
    await s.gqlOk(`mutation ($w: String!) { registerAgent(input: {name: "hello", wat: $w}) { id } }`, { w: DEMO_AGENT_WAT });
  });

  afterAll(async () => {
    await s?.close();
    await dropSchema(url, schema);
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Holds an ACCESS EXCLUSIVE lock on the task table until the returned function is called. */
  async function lockTasks(): Promise<() => Promise<void>> {
    const client = new pg.Client({ connectionString: url, options: `-c search_path="${schema}"` });
    await client.connect();
    await client.query('BEGIN');
    await client.query('LOCK TABLE task IN ACCESS EXCLUSIVE MODE');
    return async () => {
      await client.query('ROLLBACK').catch(() => {});
      await client.end();
    };
  }

  it('fails an API statement that runs past the limit with STATEMENT_TIMEOUT, then answers again', async () => {
    const unlock = await lockTasks();
    try {
      const t0 = Date.now();
      const r = await s.gql(`{ tasks(first: 1) { totalCount } }`);
      const took = Date.now() - t0;
      expect(r.errors?.[0]?.extensions?.code, JSON.stringify(r)).toBe('STATEMENT_TIMEOUT');
      expect(took).toBeGreaterThanOrEqual(LIMIT_MS - 50);
      expect(took).toBeLessThan(LIMIT_MS * 10);
    } finally {
      await unlock();
    }
    expect((await s.gqlOk(`{ tasks(first: 1) { totalCount } }`)).tasks.totalCount).toEqual(expect.any(Number));
  });

  it('answers an API statement that waits less than the limit', async () => {
    const unlock = await lockTasks();
    const released = new Promise<void>((resolve) => setTimeout(() => void unlock().then(resolve), LIMIT_MS / 4));
    const r = await s.gql(`{ tasks(first: 1) { totalCount } }`);
    await released;
    expect(r.errors).toBeUndefined();
    expect(r.data.tasks.totalCount).toEqual(expect.any(Number));
  });

  it("puts no limit on the executor's statements: a claim that waits past it still runs the task", async () => {
    const runAt = new Date(Date.now() + 1000).toISOString();
    const { submitTask } = await s.gqlOk(`mutation ($at: DateTime) { submitTask(input: {agent: "hello", runAt: $at}) { id } }`, { at: runAt });
    const unlock = await lockTasks();
    const before = logged.length;
    // The claim at runAt waits on the lock for 3× the API limit.
    await sleep(1000 + 3 * LIMIT_MS);
    await unlock();
    const task = await waitFor('the delayed task to succeed', async () => {
      const { task: t } = await s.gqlOk(`query ($id: ID!) { task(id: $id) { status attempts } }`, { id: submitTask.id });
      return t.status === 'SUCCEEDED' && t;
    }, { timeoutMs: 30_000, everyMs: 100 });
    expect(task.attempts).toBe(1);
    // Waited, not failed and retried: the executor logged no timed-out statement.
    expect(logged.slice(before).filter((l) => /57014|statement timeout/.test(l))).toEqual([]);
  });
});

if (!databaseUrl && servicesRequired) {
  describe('API_STATEMENT_TIMEOUT_MS on PostgreSQL', () => {
    it('runs (SPINDLE_REQUIRE_SERVICES=1)', () => {
      throw new Error('SPINDLE_REQUIRE_SERVICES=1 but DATABASE_URL is not set');
    });
  });
}
