// The README's own GraphQL examples, sent as they are written there: what a new user copies first
// must do what the README says (the WAT example once printed `hi!\` and no newline, because `\\n`
// in a GraphQL block string reaches WAT as a backslash and an "n").
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
let readme: string;

/** The README's ```graphql blocks whose text contains `marker`. */
function examples(marker: string): string[] {
  return [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((doc) => doc.includes(marker));
}

beforeAll(async () => {
  readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  s = await startTestServer();
});

afterAll(async () => {
  await s?.close();
});

describe('README examples', () => {
  it('registers the WAT greeter as written, and it prints "hi!" and a newline', async () => {
    const [register] = examples('name: "greeter"');
    expect(register, 'the README has the greeter example').toBeDefined();
    const { registerAgent } = await s.gqlOk<{ registerAgent: { name: string; latestVersion: number } }>(register!);
    expect(registerAgent).toMatchObject({ name: 'greeter', latestVersion: 1 });
    const { submitTask } = await s.gqlOk<{ submitTask: { id: string } }>(`mutation { submitTask(input: { agent: "greeter" }) { id } }`);
    const sub = s.subscribe<{ taskUpdated: { status: string } }>(`subscription ($id: ID!) { taskUpdated(id: $id) { status } }`, { id: submitTask.id });
    try {
      await sub.until((e) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(e.taskUpdated.status), 30_000);
    } finally {
      sub.close();
    }
    const { task } = await s.gqlOk<{ task: { status: string; exitCode: number; stdout: string } }>(`query ($id: ID!) { task(id: $id) { status exitCode stdout } }`, { id: submitTask.id });
    expect(task).toEqual({ status: 'SUCCEEDED', exitCode: 0, stdout: 'hi!\n' });
  });

  it("runs the agent controls' examples as written: pause, resume, a limit, the stats", async () => {
    const [block] = examples('pauseAgent');
    expect(block, 'the README has the agent controls example').toBeDefined();
    await s.gqlOk(`mutation { registerAgent(input: { name: "hello", wat: "(module (func (export \\"_start\\")))" }) { id } }`);
    const ops = block!.trim().split('\n');
    expect(ops).toHaveLength(4);
    expect(await s.gqlOk(ops[0]!)).toEqual({ pauseAgent: { paused: true } });
    expect(await s.gqlOk(ops[1]!)).toEqual({ resumeAgent: { paused: false } });
    expect(await s.gqlOk(ops[2]!)).toEqual({ setAgentConcurrency: { concurrencyLimit: 4 } });
    const { agent } = await s.gqlOk(ops[3]!);
    expect(agent).toMatchObject({ paused: false, concurrencyLimit: 4, stats: { tasks: 0, successRate: null, runMsP50: null } });
    expect(agent.stats.byStatus).toHaveLength(6);
  });
});
