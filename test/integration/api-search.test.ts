// The task list as a toolbox: search (id prefix, agent name, args, stdin, stdout, trap message),
// its limits, orderBy with cursor pagination under every order, and input file previews.
// Runs on PGlite, and on PostgreSQL with DATABASE_URL.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import { loadWat } from '../helpers/fixtures.js';
import { startTestServer, toBase64, type GqlResult, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

let s: TestServer;

const REGISTER = `mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`;
const SUBMIT = `mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { id } }`;
const SEARCH = `query ($search: String!, $first: Int) { tasks(first: $first, filter: { search: $search }) { edges { node { id } } totalCount } }`;
const LIST = `query ($first: Int, $after: String, $orderBy: TaskOrder) {
  tasks(first: $first, after: $after, orderBy: $orderBy) { edges { node { id createdAt finishedAt priority durationMs } } pageInfo { hasNextPage endCursor } } }`;

interface Row { id: string; createdAt: string; finishedAt: string | null; priority: number; durationMs: number | null }

const ids: Record<string, string> = {};
const submit = async (name: string, input: Record<string, unknown>) => (ids[name] = (await s.gqlOk(SUBMIT, { input })).submitTask.id);
const found = async (search: string) => {
  const r = (await s.gqlOk(SEARCH, { search, first: 500 })).tasks;
  const got = r.edges.map((e: { node: { id: string } }) => e.node.id) as string[];
  expect(r.totalCount).toBe(got.length);
  return new Set(got);
};
const nameOf = (set: Set<string>) => Object.keys(ids).filter((k) => set.has(ids[k]!)).sort();

function expectRefused(r: GqlResult, field: string, message: RegExp) {
  expect(r.errors, JSON.stringify(r)).toHaveLength(1);
  const e = r.errors![0]!;
  expect(e.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
  expect(e.message).toMatch(new RegExp(`^${field.replace(/[.[\]]/g, '\\$&')}: `));
  expect(e.message).toMatch(message);
}

beforeAll(async () => {
  s = await startTestServer();
  await s.gqlOk(REGISTER, { input: { name: 'hello', wat: DEMO_AGENT_WAT } });
  await s.gqlOk(REGISTER, { input: { name: 'zebra-echo', wat: DEMO_AGENT_WAT } });
  await s.gqlOk(REGISTER, { input: { name: 'trapper', wasmBase64: toBase64(await loadWat('unreachable')) } });
  await submit('args', { agent: 'hello', args: ['Needle-Alpha'], priority: 5 });
  await submit('stdin', { agent: 'hello', stdin: 'a HayStack Beta', priority: -2 });
  await submit('zebra', { agent: 'zebra-echo', args: ['plain'], priority: 5 });
  await submit('trap', { agent: 'trapper' });
  await submit('percent', { agent: 'hello', args: ['100%_done'] });
  // Its text is "XYZ": not hex digits, so no task's id (whose last group is searchable) can hold it.
  await submit('binaryStdin', { agent: 'hello', stdinBase64: toBase64(new Uint8Array([0, 0xff, 0xfe, 0x58, 0x59, 0x5a, 0x00])) });
  // Never runs within the test: no finishedAt, no duration.
  await submit('later', { agent: 'hello', args: ['waits'], runAt: new Date(Date.now() + 3_600_000).toISOString(), priority: 1 });
  // Never runs within the test either; submitted here, not in its describe, so that the shuffled order
  // cannot add it to the list while orderBy's tests count.
  await submit('files', {
    agent: 'hello',
    runAt: new Date(Date.now() + 3_600_000).toISOString(),
    files: [
      { path: '/in/small.txt', text: 'hello\nworld' },
      { path: '/in/long.txt', text: 'é'.repeat(3000) },
      { path: '/in/blob.bin', base64: toBase64(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 0xff])) },
      { path: '/in/empty/' },
      { path: '/in/link', symlinkTarget: 'small.txt' },
    ],
  });
  await waitFor('tasks ended', async () => {
    const { tasks } = await s.gqlOk(`{ tasks(first: 100, filter: { status: [QUEUED, RUNNING, RETRYING] }) { totalCount } }`);
    return tasks.totalCount === 2;
  }, { timeoutMs: 30_000, everyMs: 100 });
});

afterAll(async () => {
  await s?.close();
});

describe('search', () => {
  it('finds args, stdin and agent names, case-insensitively', async () => {
    expect(nameOf(await found('needle-ALPHA'))).toEqual(['args']);
    expect(nameOf(await found('haystack bet'))).toEqual(['stdin']);
    expect(nameOf(await found('ZEBRA'))).toEqual(['zebra']);
    expect(nameOf(await found('xyz'))).toEqual(['binaryStdin']);
  });

  it('finds stdout (the output only: no input says "from spindle") and a trap message', async () => {
    expect(nameOf(await found('from spindle'))).toEqual(['args', 'binaryStdin', 'percent', 'stdin', 'zebra']);
    const { task } = await s.gqlOk(`query ($id: ID!) { task(id: $id) { status trap { message } } }`, { id: ids.trap });
    expect(task.status).toBe('FAILED');
    const word = (task.trap.message as string).split(/\W+/).find((w) => w.length >= 5)!;
    expect(word).toBeTruthy();
    expect(nameOf(await found(word))).toContain('trap');
  });

  it('finds a task by the start of its id and by its last characters (what the dashboard shows), not by the middle', async () => {
    const id = ids.stdin!;
    expect(nameOf(await found(id.slice(0, 32)))).toEqual(['stdin']);
    expect(nameOf(await found(id.slice(0, 32).toUpperCase()))).toEqual(['stdin']);
    expect(nameOf(await found(id.slice(-8)))).toEqual(['stdin']);
    expect(nameOf(await found(id.slice(-8).toUpperCase()))).toEqual(['stdin']);
    expect(nameOf(await found(id.slice(9, 18)))).toEqual([]);
  });

  it('takes % and _ literally', async () => {
    expect(nameOf(await found('0%_d'))).toEqual(['percent']);
    expect(nameOf(await found('%%%'))).toEqual([]);
    expect(nameOf(await found('___'))).toEqual([]);
  });

  it("is the tenant's: another tenant's search finds none of these tasks", async () => {
    const page = await s.spindle.store.tasks.list(randomUUID(), { search: 'from spindle' }, 100);
    expect(page.rows).toEqual([]);
  });

  it('combines with the other filters', async () => {
    const { tasks } = await s.gqlOk(`{ tasks(filter: { search: "from spindle", agent: "zebra-echo" }) { edges { node { id } } } }`);
    expect(tasks.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([ids.zebra]);
  });

  it('refuses fewer than 3 characters and more than 200, naming filter.search and the limit', async () => {
    expectRefused(await s.gql(SEARCH, { search: 'ab' }), 'filter.search', /at least 3 characters.*got 2/);
    expectRefused(await s.gql(SEARCH, { search: '  ab   ' }), 'filter.search', /at least 3 characters.*got 2/);
    expectRefused(await s.gql(SEARCH, { search: '' }), 'filter.search', /at least 3/);
    expect((await s.gql(SEARCH, { search: 'abc' })).errors).toBeUndefined();
    expect((await s.gql(SEARCH, { search: 'é'.repeat(200) })).errors).toBeUndefined();
    expectRefused(await s.gql(SEARCH, { search: 'x'.repeat(201) }), 'filter.search', /at most 200 characters; got 201/);
    // The bulk actions take the same filter, and the same check.
    expectRefused(await s.gql(`mutation { cancelTasks(filter: { search: "ab" }) { matched } }`), 'filter.search', /at least 3/);
  });
});

describe('orderBy', () => {
  const all = async (orderBy: unknown, first: number) => {
    const rows: Row[] = [];
    let after: string | null = null;
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(50);
      const { tasks }: { tasks: { edges: { node: Row }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } } = await s.gqlOk(LIST, { first, after, orderBy });
      rows.push(...tasks.edges.map((e) => e.node));
      if (!tasks.pageInfo.hasNextPage) return rows;
      after = tasks.pageInfo.endCursor;
    }
  };
  const keyOf: Record<string, (r: Row) => number | null> = {
    CREATED_AT: (r) => Date.parse(r.createdAt),
    FINISHED_AT: (r) => (r.finishedAt ? Date.parse(r.finishedAt) : null),
    DURATION: (r) => r.durationMs,
    PRIORITY: (r) => r.priority,
  };

  for (const field of ['CREATED_AT', 'FINISHED_AT', 'DURATION', 'PRIORITY']) {
    for (const direction of ['ASC', 'DESC']) {
      it(`${field} ${direction}: sorted (no key last, id breaks ties), and pages of 2 list the same rows`, async () => {
        const whole = await all({ field, direction }, 500);
        expect(whole).toHaveLength(8);
        const key = keyOf[field]!;
        const sign = direction === 'ASC' ? 1 : -1;
        const expected = [...whole].sort((a, b) => {
          const [ka, kb] = [key(a), key(b)];
          if (ka === null || kb === null) return ka === kb ? sign * a.id.localeCompare(b.id) : ka === null ? 1 : -1;
          return sign * (ka - kb) || sign * a.id.localeCompare(b.id);
        });
        expect(whole.map((r) => r.id)).toEqual(expected.map((r) => r.id));
        expect((await all({ field, direction }, 2)).map((r) => r.id)).toEqual(whole.map((r) => r.id));
        if (field === 'FINISHED_AT' || field === 'DURATION') expect(whole.slice(-2).map((r) => r.id).sort()).toEqual([ids.later, ids.files].sort());
      });
    }
  }

  it('PRIORITY: equal priorities are split across pages without loss (ties on the key)', async () => {
    const rows = await all({ field: 'PRIORITY', direction: 'DESC' }, 1);
    expect(rows.slice(0, 2).map((r) => r.id).sort()).toEqual([ids.args, ids.zebra].sort());
  });

  it('refuses a cursor of another order', async () => {
    const { tasks } = await s.gqlOk(LIST, { first: 1, orderBy: { field: 'PRIORITY', direction: 'ASC' } });
    const r = await s.gql(LIST, { first: 1, after: tasks.pageInfo.endCursor, orderBy: { field: 'FINISHED_AT' } });
    expectRefused(r, 'after', /another orderBy/);
    expectRefused(await s.gql(LIST, { first: 1, after: tasks.pageInfo.endCursor }), 'after', /another orderBy/);
  });
});

describe('inputFilePreviews', () => {
  const PREVIEW = `query ($id: ID!, $max: Int) { task(id: $id) { inputFilePreviews(maxBytes: $max) { path size kind text truncated binary } } }`;
  const id = () => ids.files!;

  it('shows text files whole or cut at maxBytes (never mid-character), binary ones as binary', async () => {
    const files = (await s.gqlOk(PREVIEW, { id: id() })).task.inputFilePreviews as { path: string }[];
    const byPath = Object.fromEntries(files.map((f) => [f.path, f]));
    expect(byPath['/in/small.txt']).toEqual({ path: '/in/small.txt', size: 11, kind: 'file', text: 'hello\nworld', truncated: false, binary: false });
    // 6000 bytes of 2-byte characters; the default cap, 4096 bytes, is 2048 of them.
    expect(byPath['/in/long.txt']).toEqual({ path: '/in/long.txt', size: 6000, kind: 'file', text: 'é'.repeat(2048), truncated: true, binary: false });
    expect(byPath['/in/blob.bin']).toEqual({ path: '/in/blob.bin', size: 8, kind: 'file', text: null, truncated: false, binary: true });
    expect(files.find((f) => f.path.startsWith('/in/empty'))).toMatchObject({ kind: 'dir', text: null, truncated: false, binary: false });
    expect(byPath['/in/link']).toMatchObject({ kind: 'symlink', text: null, truncated: false, binary: false });

    const cut = (await s.gqlOk(PREVIEW, { id: id(), max: 5 })).task.inputFilePreviews as { path: string; text: string }[];
    expect(cut.find((f) => f.path === '/in/long.txt')).toMatchObject({ text: 'éé', truncated: true, binary: false });
    expect(cut.find((f) => f.path === '/in/small.txt')).toMatchObject({ text: 'hello', truncated: true });
  });

  it('refuses maxBytes outside 1..65536, naming it', async () => {
    expect((await s.gql(PREVIEW, { id: id(), max: 1 })).errors).toBeUndefined();
    expect((await s.gql(PREVIEW, { id: id(), max: 65_536 })).errors).toBeUndefined();
    expectRefused(await s.gql(PREVIEW, { id: id(), max: 0 }), 'maxBytes', /between 1 and 65536; got 0/);
    expectRefused(await s.gql(PREVIEW, { id: id(), max: 65_537 }), 'maxBytes', /between 1 and 65536; got 65537/);
  });
});
