// WASI 0.2 command components through the API: registered as base64, by POST /modules and then by
// digest; run as tasks with args, stdin, input and output files and live output, as a module is;
// refused at registration when they import what Spindle does not host, naming the import.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadComponent } from '../helpers/fixtures.js';
import { startTestServer, toBase64, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

const REGISTER = `mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id version { moduleDigest imports { module name kind } exports { name kind } } } }`;
const SUBMIT = `mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { id } }`;

async function runTask(input: Record<string, unknown>) {
  const { submitTask } = await s.gqlOk(SUBMIT, { input: { retryPolicy: { maxAttempts: 1 }, ...input } });
  return waitFor('the task to end', async () => {
    const { task } = await s.gqlOk(`query ($id: ID!) { task(id: $id) { status outcome exitCode stdout stderr error outputFiles { path text } } }`, { id: submitTask.id });
    return task.status === 'SUCCEEDED' || task.status === 'FAILED' ? task : undefined;
  }, { timeoutMs: 30_000, everyMs: 50 });
}

describe('components through the API', () => {
  it('registers from base64 and runs a task with input and output files', async () => {
    const { registerAgent } = await s.gqlOk(REGISTER, { input: { name: 'copy-p2', wasmBase64: toBase64(await loadComponent('copy.component')) } });
    expect(registerAgent.version.exports).toEqual([{ name: expect.stringMatching(/^wasi:cli\/run@0\.2\./), kind: 'instance' }]);
    expect(registerAgent.version.imports).toEqual(expect.arrayContaining([{ module: expect.stringMatching(/^wasi:cli\/stdout@/), name: '', kind: 'instance' }]));
    const t = await runTask({ agent: 'copy-p2', args: ['/in.txt', '/out.txt'], files: [{ path: '/in.txt', text: 'hello component\n' }] });
    expect(t).toMatchObject({ status: 'SUCCEEDED', exitCode: 0, stdout: 'copied 16 bytes\n' });
    expect(t.outputFiles).toEqual([{ path: '/out.txt', text: 'hello component\n' }]);
  });

  it('registers by POST /modules and then by digest, and streams stdin through', async () => {
    const res = await fetch(`${s.url}/modules`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: await loadComponent('sha256sum.component') });
    expect(res.status).toBe(201);
    const { digest } = (await res.json()) as { digest: string };
    await s.gqlOk(REGISTER, { input: { name: 'sha-p2', moduleDigest: digest } });
    const t = await runTask({ agent: 'sha-p2', stdin: 'hello component\n' });
    expect(t).toMatchObject({ status: 'SUCCEEDED', stdout: '24b599b6eaeb23223e91427595eb6661d32d8d534bf5ae720a91eb56d59c967f\n' });
  });

  it('fails a task whose program exits with an error, with its stderr', async () => {
    await s.gqlOk(REGISTER, { input: { name: 'copy-p2-fail', wasmBase64: toBase64(await loadComponent('copy.component')) } });
    const t = await runTask({ agent: 'copy-p2-fail', args: ['/missing', '/out'] });
    expect(t).toMatchObject({ status: 'FAILED', outcome: 'exited', exitCode: 1 });
    expect(t.stderr).toContain('/missing');
  });

  it('refuses a component that imports what Spindle does not host, naming the import', async () => {
    const r = await s.gql(REGISTER, { input: { name: 'foreign', wasmBase64: toBase64(await loadComponent('foreign_import')) } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_MODULE', field: 'input.wasmBase64' });
    expect(r.errors?.[0]?.message).toMatch(/does not provide: "wasi:sockets\/tcp@0\.2\.3", "phone-home"/);
  });

  it('refuses a component whose core names would be copied into generated code', async () => {
    const r = await s.gql(REGISTER, { input: { name: 'hostile', wasmBase64: toBase64(await loadComponent('hostile_names')) } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_MODULE' });
    expect(r.errors?.[0]?.message).toMatch(/core import or export names/);
  });
});
