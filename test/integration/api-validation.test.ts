// Bad input is refused at the edge with a clear error naming the field and the limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import { loadWat, malformedBytes } from '../helpers/fixtures.js';
import { startTestServer, toBase64, type TestServer } from '../helpers/server.js';

let s: TestServer;
const LIMITS = { MAX_MODULE_BYTES: '64KiB', MAX_BATCH: '5', MAX_STDIN_BYTES: '1KiB', MAX_FILES_BYTES: '2KiB', MAX_TIMEOUT_MS: '60000', MAX_REQUEST_BYTES: '256KiB', BACKOFF_MAX_MS_LIMIT: '120000' };

const SUBMIT = `mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { id } }`;
const REGISTER = `mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`;

/** The single error of a failed operation. */
async function error(query: string, variables: Record<string, unknown>) {
  const r = await s.gql(query, variables);
  expect(r.data?.submitTask ?? r.data?.registerAgent ?? r.data?.submitTasks ?? null).toBeNull();
  expect(r.errors, JSON.stringify(r)).toHaveLength(1);
  return r.errors![0]!;
}

const submitError = (input: Record<string, unknown>) => error(SUBMIT, { input: { agent: 'hello', ...input } });

beforeAll(async () => {
  s = await startTestServer(LIMITS);
  await s.gqlOk(REGISTER, { input: { name: 'hello', wat: DEMO_AGENT_WAT } });
});

afterAll(async () => {
  await s?.close();
});

describe('submitTask input', () => {
  it('names an unknown agent (NOT_FOUND)', async () => {
    const e = await error(SUBMIT, { input: { agent: 'no-such-agent' } });
    expect(e.message).toBe('input.agent: agent "no-such-agent" not found');
    expect(e.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'input.agent' });
  });

  it('names an unknown version', async () => {
    const e = await submitError({ version: 9 });
    expect(e.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'input.version' });
  });

  it('refuses limits above the maximum, with the range', async () => {
    const e = await submitError({ limits: { timeoutMs: 60_001 } });
    expect(e.message).toBe('input.limits.timeoutMs: must be between 1 and 60000');
    expect(e.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.limits.timeoutMs', max: 60000 });
    expect((await submitError({ limits: { memoryBytes: 2 ** 31 } })).message).toMatch(/^input.limits.memoryBytes: must be between 65536 and 1073741824$/);
    expect((await submitError({ retryPolicy: { maxAttempts: 11 } })).message).toBe('input.retryPolicy.maxAttempts: must be between 1 and 10');
  });

  it('takes a backoff up to BACKOFF_MAX_MS_LIMIT and refuses one above it, naming the field and the limit', async () => {
    const atLimit = { initialBackoffMs: 120_000, maxBackoffMs: 120_000 };
    const r = await s.gqlOk(`mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { retryPolicy { initialBackoffMs maxBackoffMs } } }`, {
      input: { agent: 'hello', retryPolicy: atLimit },
    });
    expect(r.submitTask.retryPolicy).toEqual(atLimit);
    const above = await submitError({ retryPolicy: { maxBackoffMs: 120_001 } });
    expect(above.message).toBe('input.retryPolicy.maxBackoffMs: must be between 0 and 120000');
    expect(above.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.retryPolicy.maxBackoffMs', max: 120000 });
    expect((await submitError({ retryPolicy: { initialBackoffMs: 120_001, maxBackoffMs: 120_000 } })).message).toBe('input.retryPolicy.initialBackoffMs: must be between 0 and 120000');
  });

  it('refuses negative values', async () => {
    expect((await submitError({ limits: { timeoutMs: -1 } })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.limits.timeoutMs' });
    expect((await submitError({ limits: { maxOutputBytes: -5 } })).extensions).toMatchObject({ field: 'input.limits.maxOutputBytes' });
    expect((await submitError({ limits: { fuel: '-3' } })).extensions).toMatchObject({ field: 'input.limits.fuel' });
    expect((await submitError({ retryPolicy: { initialBackoffMs: -10 } })).extensions).toMatchObject({ field: 'input.retryPolicy.initialBackoffMs' });
    expect((await submitError({ deterministic: { seed: 1, epochMs: -1 } })).extensions).toMatchObject({ field: 'input.deterministic.epochMs' });
  });

  it('refuses invalid base64 and oversized stdin', async () => {
    expect(await submitError({ stdinBase64: 'not base64!' })).toMatchObject({ message: 'input.stdinBase64: is not valid base64', extensions: { code: 'BAD_USER_INPUT' } });
    const e = await submitError({ stdin: 'x'.repeat(1025) });
    expect(e.message).toBe('input.stdin: is 1025 bytes; the maximum is 1024 bytes (MAX_STDIN_BYTES)');
    expect((await submitError({ stdin: 'a', stdinBase64: 'YQ==' })).extensions).toMatchObject({ field: 'input.stdin' });
  });

  it('refuses duplicate, bad and oversized input files', async () => {
    const dup = await submitError({ files: [{ path: '/in/a.txt', text: 'a' }, { path: 'in/a.txt', text: 'b' }] });
    expect(dup.message).toBe('input.files[1].path: duplicates input.files[0].path ("/in/a.txt")');
    expect((await submitError({ files: [{ path: '../etc/passwd', text: 'x' }] })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.files[0].path' });
    expect((await submitError({ files: [{ path: 'a', text: 'x', base64: 'eA==' }] })).extensions).toMatchObject({ field: 'input.files[0]' });
    expect((await submitError({ files: [{ path: 'a', base64: '***' }] })).extensions).toMatchObject({ field: 'input.files[0].base64' });
    expect((await submitError({ files: [{ path: 'big', text: 'x'.repeat(3000) }] })).message).toMatch(/^input.files: files total more than the maximum of 2048 bytes/);
  });

  it('refuses env that is not an object of strings, and malformed ids', async () => {
    expect((await submitError({ env: { A: 1 } })).extensions).toMatchObject({ field: 'input.env.A' });
    expect((await submitError({ env: ['A=1'] })).extensions).toMatchObject({ field: 'input.env' });
    const e = await error(`mutation { cancelTask(id: "nope") { id } }`, {});
    expect(e.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    const missing = await error(`mutation { cancelTask(id: "00000000-0000-7000-8000-000000000000") { id } }`, {});
    expect(missing.extensions).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses an empty batch, a batch over MAX_BATCH, and names the bad item of a batch', async () => {
    const BATCH = `mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }`;
    const stored = async () => (await s.gqlOk(`{ tasks { totalCount } }`)).tasks.totalCount as number;
    const before = await stored();
    expect(await error(BATCH, { inputs: [] })).toMatchObject({ message: 'inputs: must contain at least one task' });
    const over = await error(BATCH, { inputs: Array.from({ length: 6 }, () => ({ agent: 'hello' })) });
    expect(over.message).toBe('inputs: must contain at most 5 tasks (MAX_BATCH); got 6');
    const bad = await error(BATCH, { inputs: [{ agent: 'hello' }, { agent: 'hello', limits: { timeoutMs: 0 } }] });
    expect(bad.extensions).toMatchObject({ field: 'inputs[1].limits.timeoutMs' });
    const dupKey = await error(BATCH, { inputs: [{ agent: 'hello', idempotencyKey: 'k' }, { agent: 'hello', idempotencyKey: 'k' }] });
    expect(dupKey.message).toBe('inputs[1].idempotencyKey: duplicates inputs[0].idempotencyKey in the same batch');
    // Nothing of a refused batch was stored.
    expect(await stored()).toBe(before);
  });

  it('reports GraphQL type errors with a code', async () => {
    const r = await s.gql(`mutation { submitTask(input: { agent: "hello", limits: { timeoutMs: "soon" } }) { id } }`);
    expect(r.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(r)).not.toMatch(/stacktrace/);
  });
});

describe('registerAgent input', () => {
  it('refuses malformed wasm with the runtime reason (INVALID_MODULE)', async () => {
    const e = await error(REGISTER, { input: { name: 'bad', wasmBase64: toBase64(malformedBytes()) } });
    expect(e.extensions).toMatchObject({ code: 'INVALID_MODULE', field: 'input.wasmBase64' });
    expect(e.message).toMatch(/^input.wasmBase64: .+/);
  });

  it('refuses a module with an import the host does not provide', async () => {
    const e = await error(REGISTER, { input: { name: 'bad', wasmBase64: toBase64(await loadWat('missing_import')) } });
    expect(e.extensions).toMatchObject({ code: 'INVALID_MODULE' });
  });

  it('refuses a WASI import declared with the wrong type, naming both types', async () => {
    const wat = `(module
      (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i32 i32) (result i32)))
      (memory 1) (func (export "_start")))`;
    const e = await error(REGISTER, { input: { name: 'mistyped', wat } });
    expect(e.message).toBe(
      'input.wat: import wasi_snapshot_preview1.clock_time_get has type (i32, i32, i32) -> i32, wasi_snapshot_preview1 defines (i32, i64, i32) -> i32',
    );
    expect(e.extensions).toMatchObject({
      code: 'INVALID_MODULE',
      field: 'input.wat',
      mistypedImports: [{ module: 'wasi_snapshot_preview1', name: 'clock_time_get', declared: '(i32, i32, i32) -> i32', expected: '(i32, i64, i32) -> i32' }],
    });
  });

  it('refuses invalid base64, broken WAT, bad names and ambiguous sources', async () => {
    expect((await error(REGISTER, { input: { name: 'bad', wasmBase64: '%%%' } })).message).toBe('input.wasmBase64: is not valid base64');
    expect((await error(REGISTER, { input: { name: 'bad', wat: '(module (func' } })).message).toMatch(/^input.wat: does not compile/);
    expect((await error(REGISTER, { input: { name: 'no spaces', wat: DEMO_AGENT_WAT } })).extensions).toMatchObject({ field: 'input.name' });
    expect((await error(REGISTER, { input: { name: 'two', wat: DEMO_AGENT_WAT, wasmBase64: 'AA==' } })).message).toMatch(/^input: exactly one of wasmBase64, wat, moduleDigest/);
    expect((await error(REGISTER, { input: { name: 'none' } })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input' });
    expect((await error(REGISTER, { input: { name: 'x', moduleDigest: 'abc' } })).extensions).toMatchObject({ field: 'input.moduleDigest' });
    expect((await error(REGISTER, { input: { name: 'x', moduleDigest: 'a'.repeat(64) } })).extensions).toMatchObject({ code: 'NOT_FOUND' });
    expect((await error(REGISTER, { input: { name: 'x', wat: DEMO_AGENT_WAT, defaultLimits: { timeoutMs: 999_999 } } })).extensions).toMatchObject({
      field: 'input.defaultLimits.timeoutMs',
    });
  });

  it('refuses an oversized module sent as base64', async () => {
    const big = new Uint8Array(70 * 1024);
    const e = await error(REGISTER, { input: { name: 'big', wasmBase64: toBase64(big) } });
    expect(e.message).toMatch(/^input.wasmBase64: module is 71680 bytes; the maximum is 65536 bytes \(MAX_MODULE_BYTES\)/);
  });
});

describe('POST /modules', () => {
  const post = (body: RequestInit['body'], headers: Record<string, string> = { 'content-type': 'application/wasm' }, init: RequestInit = {}) =>
    fetch(`${s.url}/modules`, { method: 'POST', headers, body, ...init });

  it('refuses a wrong content type, naming the header (415)', async () => {
    const res = await post(await loadWat('hello'), { 'content-type': 'application/octet-stream' });
    expect(res.status).toBe(415);
    expect((await res.json()) as unknown).toEqual({
      error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Content-Type must be application/wasm (got "application/octet-stream")', field: 'Content-Type' },
    });
  });

  it('refuses an oversized module (413), declared or streamed', async () => {
    const declared = await post(new Uint8Array(70 * 1024));
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as { error: unknown }).error).toMatchObject({ code: 'LIMIT_EXCEEDED', message: expect.stringMatching(/65536 bytes \(MAX_MODULE_BYTES\)/) });

    const chunk = new Uint8Array(16 * 1024);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 6) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const streamed = await post(stream, { 'content-type': 'application/wasm' }, { duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
  });

  it('refuses malformed bytes with the reason (400)', async () => {
    const res = await post(malformedBytes());
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: 'INVALID_MODULE', field: 'body' });
  });

  it('refuses a request body over MAX_REQUEST_BYTES on /graphql (413)', async () => {
    const res = await fetch(s.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ agents { id } }', variables: { pad: 'x'.repeat(300 * 1024) } }),
    });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]).toEqual({ message: 'request body exceeds the maximum of 262144 bytes (MAX_REQUEST_BYTES)', extensions: { code: 'LIMIT_EXCEEDED' } });
  });
});

describe('subscriptions and failures', () => {
  it('answers a subscription to an unknown task with NOT_FOUND', async () => {
    const sub = s.subscribe(`subscription { taskUpdated(id: "00000000-0000-7000-8000-000000000000") { status } }`);
    await expect(sub.next()).rejects.toThrow(/"code":"NOT_FOUND"/);
    const bad = s.subscribe(`subscription { taskOutput(id: "nope") { data } }`);
    await expect(bad.next()).rejects.toThrow(/"code":"BAD_USER_INPUT"/);
  });

  it('masks unexpected errors and reports the database down on /healthz', async () => {
    // A node of its own: this test takes the database away.
    const own = await startTestServer(LIMITS);
    try {
      await own.spindle.store.close();
      const r = await own.gql(`{ agents { id } }`);
      expect(r.errors).toEqual([expect.objectContaining({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } })]);
      expect(JSON.stringify(r)).not.toMatch(/stack|prisma|pglite|postgres/i);
      const health = await fetch(`${own.url}/healthz`);
      expect(health.status).toBe(503);
      expect(((await health.json()) as { status: string }).status).toBe('unavailable');
    } finally {
      await own.close();
    }
  });
});
