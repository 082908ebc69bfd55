// Agents built from source through the API: registerAgent with `source` (AssemblyScript), the
// build cache, BUILD_FAILED with diagnostics, and the limits on the source, at and beyond each.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SOURCE_FILES, MAX_SOURCE_PATH } from '../../src/services/build.service.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const MAX_SOURCE_BYTES = 4096;
let s: TestServer;
let builds = 0;

beforeAll(async () => {
  s = await startTestServer({ MAX_SOURCE_BYTES: String(MAX_SOURCE_BYTES) });
  // Count the builds the runtime really runs (a cached source does not reach it).
  const runtime = s.spindle.runtime;
  const build = runtime.build.bind(runtime);
  runtime.build = (req) => {
    builds++;
    return build(req);
  };
});
afterAll(async () => {
  await s?.close();
});

const REGISTER = `mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id latestVersion version { moduleDigest } } }`;
const fixture = (path: string) => readFile(new URL(`../fixtures/as/${path}`, import.meta.url), 'utf8');

async function runTask(input: Record<string, unknown>) {
  const { submitTask } = await s.gqlOk(`mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { id } }`, { input: { retryPolicy: { maxAttempts: 1 }, ...input } });
  return waitFor('the task to end', async () => {
    const { task } = await s.gqlOk(`query ($id: ID!) { task(id: $id) { status exitCode stdout } }`, { id: submitTask.id });
    return task.status === 'SUCCEEDED' || task.status === 'FAILED' ? task : undefined;
  }, { timeoutMs: 30_000, everyMs: 50 });
}

describe('registerAgent from source', () => {
  it('builds AssemblyScript, registers the module and runs it; the same source again is not built again', async () => {
    const source = { language: 'ASSEMBLYSCRIPT', files: [{ path: 'main.ts', text: await fixture('main.ts') }, { path: 'lib/greet.ts', text: await fixture('lib/greet.ts') }] };
    const before = builds;
    const first = (await s.gqlOk(REGISTER, { input: { name: 'as-hello', source } })).registerAgent;
    expect(builds - before).toBe(1);
    const t = await runTask({ agent: 'as-hello', args: ['api'], env: { NAME: 'n' } });
    expect(t).toMatchObject({ status: 'SUCCEEDED', exitCode: 0, stdout: 'hello, api\nNAME=n\n' });
    // The same inputs under another name: the cached module, no build.
    const again = (await s.gqlOk(REGISTER, { input: { name: 'as-hello-2', source } })).registerAgent;
    expect(again.version.moduleDigest).toBe(first.version.moduleDigest);
    expect(builds - before).toBe(1);
    // Any change to the inputs is a new build.
    const changed = { ...source, files: [source.files[0], { path: 'lib/greet.ts', text: source.files[1]!.text.replace('hello, ', 'hi, ') }] };
    await s.gqlOk(REGISTER, { input: { name: 'as-hello', source: changed } });
    expect(builds - before).toBe(2);
    expect(await runTask({ agent: 'as-hello', args: ['v2'] })).toMatchObject({ stdout: 'hi, v2\nNAME=nobody\n' });
  }, 120_000);

  it('builds C with clang compiled to WebAssembly, and refuses files of another language', async () => {
    const source = { language: 'C', files: [{ path: 'main.c', text: '#include <stdio.h>\nint main(int argc, char **argv) { printf("C says %s\\n", argc > 1 ? argv[1] : "hi"); return 0; }\n' }] };
    await s.gqlOk(REGISTER, { input: { name: 'c-hello', source } });
    expect(await runTask({ agent: 'c-hello', args: ['api'] })).toMatchObject({ status: 'SUCCEEDED', stdout: 'C says api\n' });
    const r = await s.gql(REGISTER, { input: { name: 'c-hello', source: { language: 'C', files: [{ path: 'main.ts', text: '' }] } } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.source.files[0].path' });
    expect(r.errors?.[0]?.message).toMatch(/ending in \.c, \.h$/);
  }, 120_000);

  it('answers BUILD_FAILED with the diagnostics and the log, and registers nothing', async () => {
    const r = await s.gql(REGISTER, { input: { name: 'as-broken', source: { language: 'ASSEMBLYSCRIPT', files: [{ path: 'main.ts', text: 'let a = 1;\nlet x: i32 = "oops";\n' }] } } });
    expect(r.errors?.[0]?.message).toBe("input.source: the build failed: main.ts:2:14: Type '~lib/string/String' is not assignable to type 'i32'.");
    expect(r.errors?.[0]?.extensions).toMatchObject({
      code: 'BUILD_FAILED',
      field: 'input.source',
      diagnostics: [{ severity: 'error', code: 'TS2322', file: 'main.ts', line: 2, column: 14, message: "Type '~lib/string/String' is not assignable to type 'i32'." }],
      log: expect.stringContaining('FAILURE 1 compile error(s)'),
    });
    expect((await s.gql(`query { agent(name: "as-broken") { id } }`)).data?.agent).toBeNull();
  }, 60_000);

  it('refuses source beyond its limits before building, naming the field and the limit', async () => {
    const file = (path: string, text = 'console.log("x");\n') => ({ path, text });
    const register = (files: { path: string; text: string }[]) => s.gql(REGISTER, { input: { name: 'as-limits', source: { language: 'ASSEMBLYSCRIPT', files } } });
    const before = builds;
    // Files: at the limit (built: the entry is fine) and beyond.
    const many = Array.from({ length: MAX_SOURCE_FILES }, (_, i) => file(i === 0 ? 'main.ts' : `f${i}.ts`, i === 0 ? 'console.log("x");\n' : ''));
    expect((await register(many)).errors).toBeUndefined();
    expect((await register([...many, file('extra.ts')])).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.source.files', max: MAX_SOURCE_FILES });
    // Bytes: MAX_SOURCE_BYTES together, and one more.
    const padded = (n: number) => file('main.ts', `console.log("x");\n${'/'.repeat(n - 19)}\n`);
    expect(Buffer.byteLength(padded(MAX_SOURCE_BYTES).text)).toBe(MAX_SOURCE_BYTES);
    expect((await register([padded(MAX_SOURCE_BYTES)])).errors).toBeUndefined();
    expect((await register([padded(MAX_SOURCE_BYTES + 1)])).errors?.[0]?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', field: 'input.source.files', quota: 'MAX_SOURCE_BYTES', limit: String(MAX_SOURCE_BYTES) });
    // Paths: the longest allowed, one longer, and the shapes refused.
    const longest = `${'a'.repeat(MAX_SOURCE_PATH - 3)}.ts`;
    expect((await register([file(longest)])).errors).toBeUndefined();
    expect((await register([file(`a${longest}`)])).errors?.[0]?.extensions).toMatchObject({ field: 'input.source.files[0].path', max: MAX_SOURCE_PATH });
    for (const bad of ['../main.ts', '/abs.ts', 'a/../b.ts', '.hidden.ts', 'main.js', 'asconfig.json', 'a//b.ts']) {
      expect((await register([file(bad)])).errors?.[0]?.extensions, bad).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.source.files[0].path' });
    }
    expect((await register([file('main.ts'), file('main.ts')])).errors?.[0]?.extensions).toMatchObject({ field: 'input.source.files[1].path' });
    expect((await register([])).errors?.[0]?.extensions).toMatchObject({ field: 'input.source.files' });
    // Exactly one way to give the module.
    expect((await s.gql(REGISTER, { input: { name: 'as-limits', wat: '(module)', source: { language: 'ASSEMBLYSCRIPT', files: [file('main.ts')] } } })).errors?.[0]?.message).toMatch(/exactly one of wasmBase64, wat, moduleDigest, source/);
    expect(builds - before).toBe(3); // the three sources within the limits
  }, 120_000);

  it('buildAgent answers the build at once; buildUpdated follows it to SUCCEEDED, then build(id) reads it', async () => {
    const BUILD = `mutation ($input: RegisterAgentInput!) { buildAgent(input: $input) { id status agentName language } }`;
    const FIELDS = `id status error cached agentVersion log diagnostics { severity code file line column message } agent { name latestVersion } startedAt finishedAt`;
    const source = { language: 'ASSEMBLYSCRIPT', files: [{ path: 'main.ts', text: 'console.log("built in the background");\n' }] };
    const { buildAgent } = await s.gqlOk(BUILD, { input: { name: 'as-async', source } });
    expect(buildAgent).toMatchObject({ status: expect.stringMatching(/^(QUEUED|RUNNING)$/), agentName: 'as-async', language: 'ASSEMBLYSCRIPT' });
    const sub = s.subscribe(`subscription ($id: ID!) { buildUpdated(id: $id) { ${FIELDS} } }`, { id: buildAgent.id });
    const seen = await sub.until((d) => ['SUCCEEDED', 'FAILED'].includes(d.buildUpdated.status), 60_000);
    await sub.ended;
    const last = seen.at(-1)!.buildUpdated;
    expect(last).toMatchObject({ status: 'SUCCEEDED', error: null, cached: false, agentVersion: 1, agent: { name: 'as-async', latestVersion: 1 } });
    expect(last.finishedAt).not.toBeNull();
    expect((await s.gqlOk(`query ($id: ID!) { build(id: $id) { ${FIELDS} } }`, { id: buildAgent.id })).build).toEqual(last);
    expect(await runTask({ agent: 'as-async' })).toMatchObject({ status: 'SUCCEEDED', stdout: 'built in the background\n' });
    // The same source again: the cached module.
    const again = (await s.gqlOk(BUILD, { input: { name: 'as-async', source } })).buildAgent;
    const done = await waitFor('the cached build', async () => {
      const { build } = await s.gqlOk(`query ($id: ID!) { build(id: $id) { ${FIELDS} } }`, { id: again.id });
      return build.status === 'SUCCEEDED' ? build : undefined;
    }, { timeoutMs: 30_000, everyMs: 50 });
    expect(done).toMatchObject({ cached: true, agentVersion: 1 });
  }, 120_000);

  it('a failed buildAgent ends FAILED with its error, diagnostics and log; what registerAgent refuses at once, it refuses at once', async () => {
    const BUILD = `mutation ($input: RegisterAgentInput!) { buildAgent(input: $input) { id } }`;
    const { buildAgent } = await s.gqlOk(BUILD, { input: { name: 'as-async-broken', source: { language: 'ASSEMBLYSCRIPT', files: [{ path: 'main.ts', text: 'let x: i32 = "oops";\n' }] } } });
    const sub = s.subscribe(`subscription ($id: ID!) { buildUpdated(id: $id) { status error log diagnostics { code file line column } } }`, { id: buildAgent.id });
    const last = (await sub.until((d) => ['SUCCEEDED', 'FAILED'].includes(d.buildUpdated.status), 60_000)).at(-1)!.buildUpdated;
    expect(last).toMatchObject({ status: 'FAILED', error: expect.stringContaining('input.source: the build failed: main.ts:1:14'), diagnostics: [{ code: 'TS2322', file: 'main.ts', line: 1, column: 14 }] });
    expect(last.log).toContain('FAILURE 1 compile error(s)');
    expect((await s.gql(BUILD, { input: { name: 'x', wat: '(module)' } })).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.source' });
    expect((await s.gql(BUILD, { input: { name: 'bad name!', source: { language: 'ASSEMBLYSCRIPT', files: [{ path: 'main.ts', text: '' }] } } })).errors?.[0]?.extensions).toMatchObject({ field: 'input.name' });
    expect((await s.gql(BUILD, { input: { name: 'x', source: { language: 'ASSEMBLYSCRIPT', files: [{ path: '../main.ts', text: '' }] } } })).errors?.[0]?.extensions).toMatchObject({ field: 'input.source.files[0].path' });
  }, 120_000);
});
