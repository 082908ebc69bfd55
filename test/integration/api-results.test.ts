// A task's result on Task itself (the final attempt's exact bytes, trap and error), its outcome on
// every terminal status, taskUpdated completing after the terminal event, and what registration
// refuses (a module no run can instantiate) or reuses (the same registration again).
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watToWasm } from '../helpers/fixtures.js';
import { startTestServer, toBase64, type TestServer } from '../helpers/server.js';

const MAX_MEMORY_BYTES = 1 << 20; // 16 pages
const MAX_TABLE_ELEMENTS = 1000;
const LATER = () => new Date(Date.now() + 3600_000).toISOString();
const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({ MAX_MEMORY_BYTES: String(MAX_MEMORY_BYTES), DEFAULT_MEMORY_BYTES: String(MAX_MEMORY_BYTES), MAX_TABLE_ELEMENTS: String(MAX_TABLE_ELEMENTS) });
});

afterAll(async () => {
  await s?.close();
});

const wat = (name: string) => readFile(new URL(`../fixtures/wat/${name}.wat`, import.meta.url), 'utf8');
const REGISTER = `mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id latestVersion version { id version } } }`;

/** Registers fixture `fixture` under a fresh name; returns the name. */
async function agent(fixture: string): Promise<string> {
  const name = `${fixture.replace(/_/g, '-')}-${randomUUID().slice(0, 8)}`;
  await s.gqlOk(REGISTER, { input: { name, wat: await wat(fixture) } });
  return name;
}

async function submit(input: Record<string, unknown>): Promise<string> {
  return (await s.gqlOk(`mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { id } }`, { input })).submitTask.id;
}

const RESULT = 'stdout stderr stdoutBase64 stderrBase64 trap { code message } error';
const getTask = async (id: string) =>
  (await s.gqlOk(`query ($id: ID!) { task(id: $id) { status attempts outcome exitCode ${RESULT} attemptList { n stale outcome exitCode ${RESULT} } } }`, { id })).task;

/**
 * Follows taskUpdated to its end: every status it sent, after checking it completed right after a
 * terminal one. `onFirst` runs once the current state arrived (the subscription is in place).
 */
async function followToEnd(id: string, onFirst?: () => Promise<unknown>): Promise<string[]> {
  const sub = s.subscribe<{ taskUpdated: { status: string; outcome: string | null } }>(`subscription ($id: ID!) { taskUpdated(id: $id) { status outcome } }`, { id });
  if (onFirst) {
    await sub.next(15_000);
    await onFirst();
  }
  await sub.ended;
  const statuses = sub.results.map((r) => {
    expect(r.errors).toBeUndefined();
    return r.data!.taskUpdated.status;
  });
  expect(TERMINAL).toContain(statuses.at(-1));
  expect(statuses.slice(0, -1).filter((st) => TERMINAL.includes(st))).toEqual([]);
  return statuses;
}

describe('the result on Task', () => {
  it("is the final attempt's: exact stdout bytes, trap, exit code and error", { timeout: 60_000 }, async () => {
    const binary = Uint8Array.of(0xff, 0x00, 0xfe, 0x0a, 0xc3); // not UTF-8
    const echoed = await submit({ agent: await agent('echo_stdin'), stdinBase64: toBase64(binary) });
    // Traps twice: the task's result is the second attempt's, not the first's.
    const trapped = await submit({ agent: await agent('unreachable'), retryPolicy: { maxAttempts: 2, retryOn: ['trap'], initialBackoffMs: 0 } });
    const exited = await submit({ agent: await agent('exit_code'), args: ['3'], retryPolicy: { maxAttempts: 1 } });
    const starved = await submit({ agent: await agent('infinite_loop'), limits: { fuel: '1000' }, retryPolicy: { maxAttempts: 1 } });
    for (const id of [echoed, trapped, exited, starved]) await followToEnd(id);

    const results = await Promise.all([echoed, trapped, exited, starved].map(getTask));
    for (const t of results) {
      const final = t.attemptList.findLast((a: { stale: boolean }) => !a.stale);
      expect(t.attempts).toBe(final.n);
      for (const field of ['stdout', 'stderr', 'stdoutBase64', 'stderrBase64', 'trap', 'error', 'outcome', 'exitCode']) expect(t[field]).toEqual(final[field]);
    }
    const [echo, trap, exit, fuel] = results;
    expect(echo).toMatchObject({ status: 'SUCCEEDED', outcome: 'exited', stdoutBase64: toBase64(binary), stderrBase64: '', trap: null, error: null });
    expect(trap).toMatchObject({ status: 'FAILED', outcome: 'trap', attempts: 2, trap: { code: 'unreachable' } });
    expect(trap.attemptList.map((a: { n: number }) => a.n)).toEqual([1, 2]);
    expect(exit).toMatchObject({ status: 'FAILED', outcome: 'exited', exitCode: 3, trap: null });
    expect(fuel).toMatchObject({ status: 'FAILED', outcome: 'fuel_exhausted', trap: null, error: expect.stringMatching(/fuel/) });
  });

  it('is null for a task that has not run', async () => {
    const id = await submit({ agent: await agent('hello'), runAt: LATER() });
    expect(await getTask(id)).toMatchObject({ status: 'QUEUED', outcome: null, stdout: null, stdoutBase64: null, stderrBase64: null, trap: null, error: null });
  });
});

describe('outcome on every terminal status', () => {
  it('is cancelled, with no attempt, for tasks cancelled before they started (cancelTask and cancelTasks); a retry clears it', async () => {
    const name = await agent('hello');
    const [one, two, three] = [await submit({ agent: name, runAt: LATER() }), await submit({ agent: name, runAt: LATER() }), await submit({ agent: name, runAt: LATER() })];
    expect((await s.gqlOk(`mutation ($id: ID!) { cancelTask(id: $id) { status outcome attempts } }`, { id: one })).cancelTask).toEqual({ status: 'CANCELLED', outcome: 'cancelled', attempts: 0 });
    expect((await s.gqlOk(`mutation ($ids: [ID!]) { cancelTasks(ids: $ids) { done } }`, { ids: [two, three] })).cancelTasks.done).toBe(2);
    for (const id of [one, two, three]) {
      expect(await getTask(id)).toMatchObject({ status: 'CANCELLED', outcome: 'cancelled', attempts: 0, attemptList: [], stdout: null, trap: null });
      expect(await followToEnd(id)).toEqual(['CANCELLED']);
    }
    // Queued again, the task has no outcome until it ends anew.
    expect((await s.gqlOk(`mutation ($id: ID!) { retryTask(id: $id) { status outcome } }`, { id: one })).retryTask).toEqual({ status: 'QUEUED', outcome: null });
  });
});

describe('taskUpdated', () => {
  it('completes right after SUCCEEDED, FAILED or CANCELLED; following a retry takes a new subscription', { timeout: 60_000 }, async () => {
    // Queued a little ahead, so the subscriptions surely see them before they end.
    const soon = () => new Date(Date.now() + 1000).toISOString();
    const succeeded = await submit({ agent: await agent('hello'), runAt: soon() });
    const failed = await submit({ agent: await agent('unreachable'), runAt: soon(), retryPolicy: { maxAttempts: 1 } });
    const cancelled = await submit({ agent: await agent('hello'), runAt: LATER() });
    const [a, b, c] = await Promise.all([
      followToEnd(succeeded),
      followToEnd(failed),
      followToEnd(cancelled, () => s.gqlOk(`mutation ($id: ID!) { cancelTask(id: $id) { id } }`, { id: cancelled })),
    ]);
    expect(a.at(-1)).toBe('SUCCEEDED');
    expect(b.at(-1)).toBe('FAILED');
    expect(c).toEqual(['QUEUED', 'CANCELLED']);

    // Subscribing to an ended task: its state, then complete. After retryTask, a new one follows the new run.
    expect(await followToEnd(failed)).toEqual(['FAILED']);
    await s.gqlOk(`mutation ($id: ID!) { retryTask(id: $id) { id } }`, { id: failed });
    expect((await followToEnd(failed)).at(-1)).toBe('FAILED');
    expect((await getTask(failed)).attempts).toBe(2);
  });
});

describe('registration', () => {
  const pages = (n: number) => `(module (memory (export "memory") ${n}) (func (export "_start")))`;
  const imported = (n: number) => `(module (import "env" "memory" (memory ${n})) (func (export "_start")))`;
  const tables = (...sizes: number[]) => `(module ${sizes.map((n) => `(table ${n} funcref)`).join(' ')} (memory 1) (func (export "_start")))`;
  const register = (watText: string, extra: Record<string, unknown> = {}) => s.gql(REGISTER, { input: { name: `limits-${randomUUID().slice(0, 8)}`, wat: watText, ...extra } });

  it('refuses a module whose initial memory exceeds MAX_MEMORY_BYTES, naming the limit; at the limit it registers and runs', { timeout: 30_000 }, async () => {
    for (const module of [pages(17), imported(17), pages(65536)]) {
      const r = await register(module);
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', field: 'input.wat', quota: 'MAX_MEMORY_BYTES', limit: String(MAX_MEMORY_BYTES) });
      expect(r.errors?.[0]?.message).toMatch(/initial memory; the maximum is 1048576 bytes \(MAX_MEMORY_BYTES\)/);
    }
    for (const module of [pages(16), imported(16)]) expect((await register(module)).errors).toBeUndefined();
    const name = `at-limit-${randomUUID().slice(0, 8)}`;
    await s.gqlOk(REGISTER, { input: { name, wat: pages(16) } });
    const id = await submit({ agent: name, limits: { memoryBytes: MAX_MEMORY_BYTES } });
    await followToEnd(id);
    expect(await getTask(id)).toMatchObject({ status: 'SUCCEEDED', outcome: 'exited' });
  });

  it('refuses a module whose tables declare more than MAX_TABLE_ELEMENTS initial elements together, naming the limit', async () => {
    for (const module of [tables(1001), tables(600, 401)]) {
      const r = await register(module);
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', field: 'input.wat', quota: 'MAX_TABLE_ELEMENTS', limit: '1000' });
      expect(r.errors?.[0]?.message).toMatch(/tables declare \d+ initial elements; the maximum is 1000 \(MAX_TABLE_ELEMENTS\)/);
    }
    for (const module of [tables(1000), tables(600, 400), `(module (table 1 1000000 funcref) (memory 1) (func (export "_start")))`]) {
      expect((await register(module)).errors).toBeUndefined();
    }
  });

  it('refuses such a module on POST /modules too', async () => {
    const bytes = await watToWasm(pages(17));
    const res = await fetch(`${s.url}/modules`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: bytes });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ code: 'LIMIT_EXCEEDED', field: 'body', quota: 'MAX_MEMORY_BYTES', limit: String(MAX_MEMORY_BYTES) });
  });

  it('returns the latest version for the same registration again; another description or default limit adds one', async () => {
    const name = `same-${randomUUID().slice(0, 8)}`;
    const module = await wat('hello');
    const reg = async (extra: Record<string, unknown> = {}) => (await s.gqlOk(REGISTER, { input: { name, wat: module, ...extra } })).registerAgent;
    const first = await reg({ description: 'says hello', defaultLimits: { timeoutMs: 5000 } });
    // The same bytes as WAT or base64, the same limits, the same or no description.
    const again = await Promise.all([
      reg({ description: 'says hello', defaultLimits: { timeoutMs: 5000 } }),
      reg({ defaultLimits: { timeoutMs: 5000 } }),
      reg({ wat: undefined, wasmBase64: toBase64(await watToWasm(module)), defaultLimits: { timeoutMs: 5000 } }),
    ]);
    for (const a of again) expect(a).toMatchObject({ id: first.id, latestVersion: 1, version: { id: first.version.id } });

    expect(await reg({ description: 'says hello, loudly', defaultLimits: { timeoutMs: 5000 } })).toMatchObject({ latestVersion: 2 });
    expect(await reg({ defaultLimits: { timeoutMs: 6000 } })).toMatchObject({ latestVersion: 3 });
    expect(await reg()).toMatchObject({ latestVersion: 4 });
    expect(await reg()).toMatchObject({ latestVersion: 4 });
  });
});
