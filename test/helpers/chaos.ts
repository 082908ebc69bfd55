/**
 * What the chaos tests share: a PostgreSQL schema of their own with a direct connection for the
 * checks, a client that submits with idempotency keys and retries as the outage contract says
 * (503 UNAVAILABLE → wait Retry-After → same key again), a taskEvents subscriber, and the
 * invariants every chaos test asserts once the dust settles:
 *
 *   nothing lost            every accepted key is exactly one task, and it reached a terminal status
 *   never terminal twice    one attempt ran to a real outcome (the rest, if any, host_error retries),
 *                           and it is the task's last; the subscriber saw one terminal (status, attempt)
 *   every terminal seen     the subscriber saw the terminal status of every task
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createClient, type Client } from 'graphql-ws';
import pg from 'pg';
import { describe, it } from 'vitest';
import WebSocket from 'ws';
import { dropSchema } from './store.js';
import { sleep, waitFor } from './wait.js';

export const databaseUrl = process.env.DATABASE_URL || undefined;
export const servicesRequired = process.env.SPINDLE_REQUIRE_SERVICES === '1';

/**
 * `describe` for tests that touch no service (the runtime alone, the CLI without a server). CI's
 * services pass (SPINDLE_REQUIRE_SERVICES=1) repeats the suites against PostgreSQL and Redis; there
 * these would only run again what the embedded pass ran, so they are not declared at all (not
 * skipped). vitest.config.ts leaves the runtime's own files out of that pass the same way.
 */
export function describeServiceFree(name: string, body: () => void, options: { timeout?: number } = {}): void {
  if (!servicesRequired) describe(name, options, body);
}

/**
 * `describe` when DATABASE_URL is set. Without it the tests are skipped — unless
 * SPINDLE_REQUIRE_SERVICES=1 (CI's services pass), where a failing test says why: CI can never go
 * green by skipping them.
 */
export function describeOnPostgres(name: string, body: () => void, options: { shuffle?: boolean } = {}): void {
  if (databaseUrl) describe(name, options, body);
  else if (servicesRequired) {
    describe(name, () => {
      it('runs (SPINDLE_REQUIRE_SERVICES=1)', () => {
        throw new Error(`SPINDLE_REQUIRE_SERVICES=1 but DATABASE_URL is not set: "${name}" cannot run.`);
      });
    });
  } else describe.skip(`${name} (needs DATABASE_URL)`, body);
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

export interface ChaosSchema {
  schema: string;
  /** DATABASE_URL for a node: through `port` (a proxy) or straight to the server, in this schema. */
  nodeUrl(options?: { port?: number; applicationName?: string }): string;
  /** A direct connection (not through any proxy) for the checks. */
  db: pg.Client;
  drop(): Promise<void>;
}

export async function chaosSchema(): Promise<ChaosSchema> {
  const base = new URL(databaseUrl!);
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const db = new pg.Client({ connectionString: databaseUrl, options: `-c search_path="${schema}"` });
  await db.connect();
  return {
    schema,
    nodeUrl({ port, applicationName } = {}) {
      const u = new URL(base);
      if (port) u.host = `127.0.0.1:${port}`;
      u.searchParams.set('schema', schema);
      // pg lets the URL's application_name win over the one the node sets: names this node's connections.
      if (applicationName) u.searchParams.set('application_name', applicationName);
      return u.toString();
    },
    db,
    async drop() {
      await db.end().catch(() => {});
      await dropSchema(databaseUrl!, schema);
    },
  };
}

/**
 * What the chaos tests submit: test/fixtures/wat/spin_for_ms.wat busy-waiting 30 ms, then printing:
 * still running a moment after it starts.
 */
export const WAIT_TASK = { agent: 'spin_for_ms', args: ['30'] } as const;

export async function registerWaitAgent(graphqlUrl: string): Promise<void> {
  const wat = await readFile(new URL('../fixtures/wat/spin_for_ms.wat', import.meta.url), 'utf8');
  const { status, body } = await post(graphqlUrl, `mutation ($w: String!) { registerAgent(input: {name: "${WAIT_TASK.agent}", wat: $w}) { id } }`, { w: wat });
  if (status !== 200 || body.errors) throw new Error(`registerAgent answered HTTP ${status}: ${JSON.stringify(body.errors)}`);
}

export interface Answer {
  key: string;
  status: number;
  retryAfter: string | null;
  code: string | null;
  at: number;
}

/** One GraphQL request over HTTP; never throws for a status. */
export async function post(graphqlUrl: string, query: string, variables?: Record<string, unknown>) {
  const res = await fetch(graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  let body: { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
  }
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
}

const SUBMIT = `mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id idempotencyKey } }`;

/**
 * Submits `task` under each of `keys` in one submitTasks call, again and again with the same keys
 * until the node accepts them, as the README tells clients to: on 503 UNAVAILABLE, wait Retry-After
 * (capped at `maxWaitMs`, so a test need not sit out the full advice). Every answer goes to `answers`.
 */
export async function submitUntilAccepted(
  graphqlUrl: string,
  task: { agent: string; args?: readonly string[] },
  keys: string[],
  answers: Answer[],
  { deadlineMs = 60_000, maxWaitMs = 5_000 } = {},
): Promise<Map<string, string>> {
  const inputs = keys.map((idempotencyKey) => ({ ...task, idempotencyKey }));
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const { status, retryAfter, body } = await post(graphqlUrl, SUBMIT, { inputs });
    const code = body.errors?.[0]?.extensions?.code ?? null;
    answers.push({ key: keys[0]!, status, retryAfter, code, at: Date.now() });
    if (status === 200 && !body.errors) {
      return new Map((body.data.submitTasks as { id: string; idempotencyKey: string }[]).map((t) => [t.idempotencyKey, t.id]));
    }
    if (status !== 503 || code !== 'UNAVAILABLE' || Date.now() > deadline) {
      throw new Error(`submit of ${keys[0]}… answered HTTP ${status}: ${JSON.stringify(body.errors ?? body).slice(0, 500)}`);
    }
    await sleep(Math.min(Number(retryAfter) * 1000, maxWaitMs));
  }
}

/**
 * Readies a node for a chaos test: registers the waiting agent, opens a taskEvents subscriber, and
 * submits a probe task until its event comes through (the subscription is live). Answers the
 * subscriber (the caller closes it), the submit answers so far and the accepted keys (the probe's).
 */
export async function readyNode(node: { graphqlUrl: string; wsUrl: string }): Promise<{ watcher: EventWatcher; answers: Answer[]; accepted: Map<string, string> }> {
  await registerWaitAgent(node.graphqlUrl);
  const watcher = watchEvents(node.wsUrl);
  try {
    const answers: Answer[] = [];
    const accepted = await submitUntilAccepted(node.graphqlUrl, WAIT_TASK, ['probe'], answers);
    await watcher.seen(accepted.get('probe')!);
    return { watcher, answers, accepted };
  } catch (e) {
    await watcher.close();
    throw e;
  }
}

export interface TaskEvent {
  taskId: string;
  status: string;
  attempt: number;
}

export interface EventWatcher {
  events: TaskEvent[];
  /** Closes and errors of the WebSocket: none may happen while the node is up. */
  problems: string[];
  /** Resolves once the subscription delivered an event for `taskId`: the subscription is live. */
  seen(taskId: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A taskEvents subscriber on `wsUrl` that never reconnects (a reconnect could miss events). */
export function watchEvents(wsUrl: string): EventWatcher {
  const events: TaskEvent[] = [];
  const problems: string[] = [];
  const client: Client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, on: { closed: (e) => problems.push(`closed: ${JSON.stringify(e)}`) } });
  let closing = false;
  client.subscribe<{ taskEvents: TaskEvent }>(
    { query: 'subscription { taskEvents { taskId status attempt } }' },
    {
      next: (r) => (r.data ? events.push(r.data.taskEvents) : problems.push(`errors: ${JSON.stringify(r.errors)}`)),
      error: (e) => !closing && problems.push(`error: ${e instanceof Error ? e.message : JSON.stringify(e)}`),
      complete: () => !closing && problems.push('completed'),
    },
  );
  return {
    events,
    problems,
    seen: (taskId, timeoutMs = 30_000) => waitFor(`an event of ${taskId}`, () => events.some((e) => e.taskId === taskId) || undefined, { timeoutMs, everyMs: 50 }).then(() => {}),
    async close() {
      closing = true;
      await client.dispose();
    },
  };
}

interface TaskState {
  id: string;
  key: string | null;
  status: string;
  attempts: number;
}

/** Waits until every task of the schema is terminal; returns them. */
export async function allTerminal(db: pg.Client, timeoutMs: number): Promise<TaskState[]> {
  return waitFor(
    'every task to end',
    async () => {
      const { rows } = await db.query<TaskState>('SELECT id, idempotency_key AS key, status, attempts FROM task');
      return rows.every((t) => TERMINAL.has(t.status)) ? rows : undefined;
    },
    { timeoutMs, everyMs: 250 },
  );
}

/**
 * The invariants (see the top of this file). `accepted`: key → task id as answered to the client
 * (every answer for a key must name the same task: checked as they are merged by the caller).
 */
export async function checkInvariants(db: pg.Client, accepted: Map<string, string>, watcher: EventWatcher, timeoutMs = 30_000) {
  const tasks = await allTerminal(db, timeoutMs);
  const byKey = new Map<string, TaskState[]>();
  for (const t of tasks) if (t.key !== null) byKey.set(t.key, [...(byKey.get(t.key) ?? []), t]);
  const problems: string[] = [];
  for (const [key, id] of accepted) {
    const rows = byKey.get(key) ?? [];
    if (rows.length !== 1 || rows[0]!.id !== id) problems.push(`key ${key}: answered ${id}, stored ${rows.map((r) => r.id).join(',') || 'nothing'}`);
  }
  // Never terminal twice: at most one attempt ended in a real outcome, and it is the last one.
  const { rows: attempts } = await db.query<{ task_id: string; n: number; node: string; outcome: string; error: string | null; finished_at: Date }>(
    'SELECT task_id, n, node, outcome, error, finished_at FROM task_attempt WHERE NOT stale ORDER BY task_id, n',
  );
  const last = new Map(attempts.map((a) => [a.task_id, a]));
  const real = new Map<string, number[]>();
  for (const a of attempts) if (a.outcome !== 'host_error') real.set(a.task_id, [...(real.get(a.task_id) ?? []), a.n]);
  for (const t of tasks) {
    const ns = real.get(t.id) ?? [];
    if (t.status !== 'SUCCEEDED' || ns.length !== 1 || ns[0] !== t.attempts) problems.push(`task ${t.id}: ${t.status} after ${t.attempts} attempts, real outcomes in attempts [${ns}]`);
  }
  // Every terminal status seen by the subscriber, one (status, attempt) per task.
  await waitFor('the subscriber to see every terminal status', () => tasks.every((t) => watcher.events.some((e) => e.taskId === t.id && TERMINAL.has(e.status))) || undefined, { timeoutMs: 10_000, everyMs: 200 }).catch(() => {});
  for (const t of tasks) {
    const ends = new Set(watcher.events.filter((e) => e.taskId === t.id && TERMINAL.has(e.status)).map((e) => `${e.status}/${e.attempt}`));
    if (ends.size !== 1 || !ends.has(`${t.status}/${t.attempts}`)) {
      const a = last.get(t.id);
      problems.push(`task ${t.id}: the subscriber saw terminal [${[...ends]}], stored ${t.status}/${t.attempts} (by ${a?.node} at ${a?.finished_at.toISOString()})`);
    }
  }
  const retried = attempts.filter((a) => a.outcome === 'host_error').map((a) => `${a.task_id}#${a.n}: ${a.error}`);
  return { tasks, attempts: attempts.length, retried, problems: problems.slice(0, 20), problemCount: problems.length };
}

/** Log lines of a node that speak of unhandled errors (an unhandled rejection would also end the process). */
export const unhandledLines = (lines: string[]) => lines.filter((l) => /unhandled/i.test(l));

/** Warnings and errors a node logged, counted by message: what the fault looked like from inside. */
export function logSummary(logs: Record<string, unknown>[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const l of logs) if (Number(l.level) >= 40) counts[String(l.msg)] = (counts[String(l.msg)] ?? 0) + 1;
  return counts;
}
