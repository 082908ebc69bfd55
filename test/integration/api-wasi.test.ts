// A task's WASI options through the API: argv0, mounts (a read-only /in and a writable /out),
// input directories and symlinks, and one absolute path convention for input and output files.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
  const wat = await readFile(new URL('../fixtures/wat/mounts.wat', import.meta.url), 'utf8');
  await s.gqlOk(`mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`, { input: { name: 'mounts-agent', wat } });
});

afterAll(async () => {
  await s?.close();
});

const SUBMIT = `mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { id } }`;

async function run(input: Record<string, unknown>) {
  const { submitTask } = await s.gqlOk(SUBMIT, { input: { agent: 'mounts-agent', retryPolicy: { maxAttempts: 1 }, ...input } });
  return waitFor('the task to end', async () => {
    const { task } = await s.gqlOk(`query ($id: ID!) { task(id: $id) { status exitCode stdout argv0 mounts { path readOnly } inputFiles { path size kind symlinkTarget } outputFiles { path text } } }`, { id: submitTask.id });
    return task.status === 'SUCCEEDED' || task.status === 'FAILED' ? task : undefined;
  }, { timeoutMs: 30_000, everyMs: 50 });
}

const FILES = [{ path: '/in/a.txt', text: 'A' }, { path: '/in/link', symlinkTarget: 'a.txt' }, { path: '/in/empty/' }];

describe('WASI options of a task', () => {
  it('runs with argv0, a read-only /in and a writable /out; files in and out are absolute', async () => {
    const t = await run({ argv0: 'tool', mounts: [{ path: '/in', readOnly: true }, { path: '/out' }], files: FILES });
    expect(t).toMatchObject({ status: 'SUCCEEDED', exitCode: 0, stdout: 'tool\nAA' });
    expect(t.outputFiles).toEqual([{ path: '/out/r.txt', text: 'done' }]);
    expect(t.inputFiles).toEqual([
      { path: '/in/a.txt', size: 1, kind: 'file', symlinkTarget: null },
      { path: '/in/link', size: 5, kind: 'symlink', symlinkTarget: 'a.txt' },
      { path: '/in/empty', size: 0, kind: 'dir', symlinkTarget: null },
    ]);
    expect(t).toMatchObject({ argv0: 'tool', mounts: [{ path: '/in', readOnly: true }, { path: '/out', readOnly: false }] });
  });

  it('defaults: argv[0] is the agent\'s name, "/" alone at fd 3 (no fd 4), relative input paths come back absolute', async () => {
    const t = await run({ files: [{ path: 'a.txt', text: 'B' }, { path: 'link', symlinkTarget: 'a.txt' }] });
    expect(t).toMatchObject({ status: 'FAILED', exitCode: 14, stdout: 'mounts-agent\nBB' });
    expect(t.inputFiles.map((f: { path: string }) => f.path)).toEqual(['/a.txt', '/link']);
    expect(t).toMatchObject({ argv0: null, mounts: [{ path: '/', readOnly: false }] });
  });

  it('refuses inputs outside the mounts and bad mounts, naming the field', async () => {
    const refused = async (input: Record<string, unknown>) => (await s.gql(SUBMIT, { input: { agent: 'mounts-agent', ...input } })).errors?.[0]?.extensions;
    expect(await refused({ mounts: [{ path: '/in' }], files: [{ path: '/out/a', text: 'x' }] })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.files[0].path' });
    expect(await refused({ mounts: [], files: [{ path: '/a', text: 'x' }] })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.files[0].path' });
    expect(await refused({ mounts: [{ path: '/' }, { path: '/in' }] })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.mounts[1].path' });
    expect(await refused({ argv0: '' })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.argv0' });
  });
});
