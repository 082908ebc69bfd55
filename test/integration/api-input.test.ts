// Every input is checked at the edge (issue 9): one test per finding, each once answered
// INTERNAL_SERVER_ERROR, now BAD_USER_INPUT naming the field; strings that become bytes keep their
// NULs; idempotency keys round-trip exactly. Runs on PGlite, and on PostgreSQL with DATABASE_URL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import { startTestServer, type GqlResult, type TestServer } from '../helpers/server.js';

let s: TestServer;

const SUBMIT = `mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { id idempotencyKey } }`;
const BATCH = `mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id idempotencyKey } }`;
const REGISTER = `mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`;
const TASKS = `query ($after: String, $filter: TaskFilter) { tasks(first: 2, after: $after, filter: $filter) { edges { cursor node { id } } pageInfo { endCursor } totalCount } }`;

/** The single error of a refused operation. */
function only(r: GqlResult) {
  expect(r.errors, JSON.stringify(r)).toHaveLength(1);
  return r.errors![0]!;
}

/** A refusal naming `field`, with a message that starts with it. */
function expectRefused(r: GqlResult, field: string, message: RegExp) {
  const e = only(r);
  expect(e.extensions, JSON.stringify(e)).toMatchObject({ code: 'BAD_USER_INPUT', field });
  expect(e.message.startsWith(`${field}: `), e.message).toBe(true);
  expect(e.message).toMatch(message);
}

const submit = (input: Record<string, unknown>) => s.gql(SUBMIT, { input: { agent: 'hello', ...input } });
const count = async () => (await s.gqlOk(`{ tasks { totalCount } }`)).tasks.totalCount as number;
const cursorOf = (ms: string, id: string) => Buffer.from(`${ms}:${id}`).toString('base64url');

beforeAll(async () => {
  s = await startTestServer();
  await s.gqlOk(REGISTER, { input: { name: 'hello', wat: DEMO_AGENT_WAT } });
});

afterAll(async () => {
  await s?.close();
});

describe('text that PostgreSQL cannot store is refused, naming the field', () => {
  it('NUL in an idempotency key, a file path, an agent name or a description', async () => {
    expectRefused(await submit({ idempotencyKey: 'a\u0000b' }), 'input.idempotencyKey', /must not contain NUL \(U\+0000, at index 1\)/);
    expectRefused(await submit({ files: [{ path: 'a\u0000b', text: 'x' }] }), 'input.files[0].path', /must not contain NUL \(U\+0000, at index 1\)/);
    expectRefused(await s.gql(REGISTER, { input: { name: 'a\u0000b', wat: DEMO_AGENT_WAT } }), 'input.name', /NUL/);
    expectRefused(await s.gql(REGISTER, { input: { name: 'described', description: 'x\u0000', wat: DEMO_AGENT_WAT } }), 'input.description', /NUL/);
  });

  it('lone surrogates in args, env names and env values', async () => {
    expectRefused(await submit({ args: ['ok', '\ud800'] }), 'input.args[1]', /lone surrogate \(U\+D800, at index 0\)/);
    expectRefused(await submit({ env: { '\udc00': 'x' } }), 'input.env["\\udc00"]', /key must be well-formed Unicode/);
    expectRefused(await submit({ env: { A: 'x\ud800y' } }), 'input.env.A', /lone surrogate \(U\+D800, at index 1\)/);
    expectRefused(await s.gql(BATCH, { inputs: [{ agent: 'hello' }, { agent: 'hello', args: ['\udfff'] }] }), 'inputs[1].args[0]', /lone surrogate/);
  });

  it('a lone-surrogate idempotency key is refused every time, never stored as U+FFFD', async () => {
    const before = await count();
    for (let i = 0; i < 2; i++) expectRefused(await submit({ idempotencyKey: 'k\ud800' }), 'input.idempotencyKey', /lone surrogate/);
    expect(await count()).toBe(before);
  });

  it('in queries and subscriptions too: agent(name:), tasks(filter:), taskEvents(filter:)', async () => {
    expectRefused(await s.gql(`query ($n: String) { agent(name: $n) { id } }`, { n: 'a\u0000' }), 'name', /NUL/);
    expectRefused(await s.gql(TASKS, { filter: { agent: '\ud800' } }), 'filter.agent', /lone surrogate/);
    expectRefused(await s.gql(`mutation ($id: ID!) { deleteAgent(id: $id) }`, { id: 'hello\u0000' }), 'id', /NUL/);
    const sub = s.subscribe(`subscription ($f: TaskEventFilter) { taskEvents(filter: $f) { taskId } }`, { f: { agent: 'x\u0000' } });
    await expect(sub.next(10_000)).rejects.toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT', field: 'filter.agent' } }] });
    sub.close();
  });

  it('stdin and file text become bytes: NUL is kept, a lone surrogate refused', async () => {
    const r = await s.gqlOk(`mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { stdinBase64 } }`, {
      input: { agent: 'hello', stdin: 'a\u0000b', files: [{ path: 'f', text: '\u0000' }], runAt: new Date(Date.now() + 3_600_000).toISOString() },
    });
    expect([...Buffer.from(r.submitTask.stdinBase64, 'base64')]).toEqual([0x61, 0x00, 0x62]);
    expectRefused(await submit({ stdin: 'a\ud800' }), 'input.stdin', /lone surrogate/);
    expectRefused(await submit({ files: [{ path: 'f', text: '\udc00' }] }), 'input.files[0].text', /lone surrogate/);
  });
});

describe('numbers and dates are range-checked', () => {
  it('fuel: 2^64 and 2^63 refused as not 64-bit, 2^63-1 accepted, 0 refused with the range', async () => {
    for (const fuel of [2n ** 64n, 2n ** 63n]) {
      const e = only(await submit({ limits: { fuel: fuel.toString() } }));
      expect(e.extensions?.code).toBe('BAD_USER_INPUT');
      expect(e.message).toMatch(/at "input.limits.fuel"; BigInt must be a 64-bit integer, between -9223372036854775808 and 9223372036854775807/);
    }
    const max = (2n ** 63n - 1n).toString();
    const ok = await s.gqlOk(`mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { limits { fuel } } }`, {
      input: { agent: 'hello', limits: { fuel: max }, runAt: new Date(Date.now() + 3_600_000).toISOString() },
    });
    expect(ok.submitTask.limits.fuel).toBe(max);
    expectRefused(await submit({ limits: { fuel: '0' } }), 'input.limits.fuel', /must be between 1 and 9223372036854775807$/);
  });

  it('a DateTime the store cannot hold is refused with the range; the edges of the range are accepted', async () => {
    for (const runAt of ['0000-06-01T00:00:00Z', '0001-01-01T00:00:00+14:00', '9999-12-31T23:59:59.999-14:00']) {
      const e = only(await submit({ runAt }));
      expect(e.extensions?.code).toBe('BAD_USER_INPUT');
      expect(e.message).toMatch(/at "input.runAt"; DateTime must be between 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z \(UTC\)/);
    }
    const r = await s.gqlOk(TASKS, { filter: { createdAfter: '0001-01-01T00:00:00Z', createdBefore: '9999-12-31T23:59:59.999Z' } });
    expect(r.tasks.totalCount).toBe(await count());
  });

  it('runAt at most 365 days ahead', async () => {
    const day = 86_400_000;
    const ok = await submit({ runAt: new Date(Date.now() + 365 * day - 60_000).toISOString() });
    expect(ok.errors).toBeUndefined();
    expectRefused(await submit({ runAt: new Date(Date.now() + 365 * day + 60_000).toISOString() }), 'input.runAt', /must be at most 365 days ahead/);
    // The past means "now".
    expect((await submit({ runAt: '2001-01-01T00:00:00Z' })).errors).toBeUndefined();
  });

  it('tasks(after:): a cursor with an out-of-range time, or not ours, is refused; ours page on', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    for (const after of [cursorOf('-62135596800001', id), cursorOf('-8640000000000000', id), cursorOf('253402300800000', id), cursorOf('0x10', id), cursorOf('5.5', id), 'garbage!', `${cursorOf('1', id)}A`]) {
      expectRefused(await s.gql(TASKS, { after }), 'after', /is not a cursor from this API/);
    }
    // Three tasks of its own (delayed: nothing runs), so there is a second page whatever ran before.
    const runAt = new Date(Date.now() + 3_600_000).toISOString();
    await s.gqlOk(BATCH, { inputs: [{ agent: 'hello', runAt }, { agent: 'hello', runAt }, { agent: 'hello', runAt }] });
    const first = await s.gqlOk(TASKS);
    const second = await s.gqlOk(TASKS, { after: first.tasks.pageInfo.endCursor });
    expect(second.tasks.edges.length).toBeGreaterThan(0);
    expect(second.tasks.edges[0].node.id).not.toBe(first.tasks.edges[1].node.id);
    expect(first.tasks.edges[1].cursor).toBe(first.tasks.pageInfo.endCursor);
  });
});

describe('idempotency keys round-trip exactly', () => {
  const AWKWARD = [
    '😀𝄞', // astral (surrogate pairs)
    'e\u0301', // combining mark: NFD …
    '\u00e9', // … and NFC: a different key
    '👩‍👩‍👧‍👦', // ZWJ sequence
    'שלום abc', // right to left
    ' "quoted" \\ back\'slash ',
    '\u200b', // zero width space alone
    '😀'.repeat(255), // 255 characters, 510 UTF-16 units: at the limit
    'k'.repeat(255),
  ];

  it('the same awkward key twice returns the same task, the key as sent', async () => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const ids = new Set<string>();
    for (const key of AWKWARD) {
      const a = await s.gqlOk(SUBMIT, { input: { agent: 'hello', idempotencyKey: key, runAt: later } });
      const b = await s.gqlOk(SUBMIT, { input: { agent: 'hello', idempotencyKey: key, runAt: later } });
      expect(b.submitTask.id, JSON.stringify(key)).toBe(a.submitTask.id);
      expect(a.submitTask.idempotencyKey).toBe(key);
      const read = await s.gqlOk(`query ($id: ID!) { task(id: $id) { idempotencyKey } }`, { id: a.submitTask.id });
      expect(read.task.idempotencyKey).toBe(key);
      ids.add(a.submitTask.id);
    }
    expect(ids.size).toBe(AWKWARD.length); // NFC and NFD are not conflated
    // In a batch, next to a new key: the existing task comes back.
    const batch = await s.gqlOk(BATCH, { inputs: [{ agent: 'hello', idempotencyKey: AWKWARD[0], runAt: later }, { agent: 'hello', idempotencyKey: '🆕', runAt: later }] });
    expect(ids.has(batch.submitTasks[0].id)).toBe(true);
    expect(batch.submitTasks[1].idempotencyKey).toBe('🆕');
  });

  it('256 characters are one too many, astral or not; the empty key is refused', async () => {
    expectRefused(await submit({ idempotencyKey: '😀'.repeat(256) }), 'input.idempotencyKey', /must be 1-255 characters \(got more than 255\)/);
    expectRefused(await submit({ idempotencyKey: `${'😀'.repeat(254)}kk` }), 'input.idempotencyKey', /must be 1-255 characters \(got 256\)/);
    expectRefused(await submit({ idempotencyKey: 'k'.repeat(256) }), 'input.idempotencyKey', /must be 1-255 characters \(got 256\)/);
    expectRefused(await submit({ idempotencyKey: 'k'.repeat(100_000) }), 'input.idempotencyKey', /must be 1-255 characters \(got more than 255\)/);
    expectRefused(await submit({ idempotencyKey: '' }), 'input.idempotencyKey', /must be 1-255 characters \(got 0\)/);
  });
});
