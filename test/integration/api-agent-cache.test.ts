// The node's agent cache on the submit path (graphql/agent.cache.ts): a version registered or an
// agent deleted on this node is seen by the very next submit, whatever the cache holds.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

const wat = (name: string) => readFile(new URL(`../fixtures/wat/${name}.wat`, import.meta.url), 'utf8');

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

const register = (name: string, source: string) =>
  s.gqlOk(`mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`, { input: { name, wat: source } });

const submit = (input: Record<string, unknown>) =>
  s.gql<{ submitTask: { agentVersion: { version: number; moduleDigest: string } } }>(
    `mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { agentVersion { version moduleDigest } } }`,
    { input },
  );

describe('agent cache on the submit path', () => {
  it('the next submit on the same node uses a version registered just before', async () => {
    await register('cached', await wat('hello'));
    const first = await submit({ agent: 'cached' });
    expect(first.data?.submitTask.agentVersion.version).toBe(1);
    // Cached now (well within its second); register v2 and submit at once.
    await register('cached', await wat('exit_code'));
    const second = await submit({ agent: 'cached' });
    expect(second.data?.submitTask.agentVersion.version).toBe(2);
    expect(second.data?.submitTask.agentVersion.moduleDigest).not.toBe(first.data?.submitTask.agentVersion.moduleDigest);
    // An explicit (immutable) version still resolves to itself.
    const pinned = await submit({ agent: 'cached', version: 1 });
    expect(pinned.data?.submitTask.agentVersion).toEqual(first.data?.submitTask.agentVersion);
  });

  it('a submit right after deleteAgent is NOT_FOUND, and a name registered after a miss is found at once', async () => {
    await register('gone', await wat('hello'));
    expect((await submit({ agent: 'gone' })).errors).toBeUndefined();
    await s.gqlOk(`mutation { deleteAgent(id: "gone") }`);
    const missing = await submit({ agent: 'gone' });
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    await register('gone', await wat('hello'));
    expect((await submit({ agent: 'gone' })).errors).toBeUndefined();
  });
});
