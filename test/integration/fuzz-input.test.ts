// Every input is checked at the edge: generated arguments, valid and hostile, for every mutation
// (and every query that takes arguments), sent over HTTP to a real node with AUTH=on as the system
// admin. No answer may be INTERNAL_SERVER_ERROR or an HTTP 5xx, every error carries a code, and a
// refusal during execution names its field (extensions.field).
//
// The values come from the schema's input types (test/helpers/arbitraries.ts), so a new argument
// or input field is fuzzed without touching this file; a new mutation fails the first test until
// it has an entry in HINTS. Fixed seed, RUNS cases per operation; issue 9's findings are explicit
// examples, run first.
//
//   INPUT_FUZZ_RUNS=2000 INPUT_FUZZ_SEED=7 npx vitest run test/integration/fuzz-input    (a longer run)
import fc from 'fast-check';
import type { GraphQLFormattedError } from 'graphql';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_ID } from '../../src/store/index.js';
import { makeSchema } from '../../src/graphql/schema.js';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import { anyText, argumentsFor, operationFor, toJson, type Hints } from '../helpers/arbitraries.js';
import { watToWasm } from '../helpers/fixtures.js';
import { startTestServer, toBase64, type TestClient, type TestServer } from '../helpers/server.js';

const RUNS = Number(process.env.INPUT_FUZZ_RUNS ?? 200);
const SEED = Number(process.env.INPUT_FUZZ_SEED ?? 0x1e9);
/** Small limits, so generated sizes fall on both sides of them. */
const LIMITS = { MAX_BATCH: '5', MAX_STDIN_BYTES: '4KiB', MAX_FILES_BYTES: '8KiB', MAX_MODULE_BYTES: '64KiB', MAX_REQUEST_BYTES: '2MiB', MAX_FUEL: '1000000000000' };

let s: TestServer;
let admin: TestClient;
const schema = await makeSchema();

/** What the world holds for hints to aim at (ids that exist, names in use). */
interface World {
  digest: string;
  wasmBase64: string;
  victimAgents: string[];
  tenantId: string;
  keyIds: string[];
  taskIds: string[];
  cursor: string;
}
let w: World;

const VICTIMS = ['victim-0', 'victim-1', 'victim-2'];
/** The agent the controls (pause, resume, concurrency) are tried on: never deleted, so some calls succeed in any order. */
const CONTROLLED = 'controlled';
const cursorOf = (ms: string, id: string) => Buffer.from(`${ms}:${id}`).toString('base64url');

/** Values that reach past the first check, per operation (schema coordinates; see arbitraries.ts). */
const submitHints = (): Hints => ({
  'SubmitTaskInput.agent': fc.constantFrom('hello', 'hello', 'hello', ...VICTIMS),
  'SubmitTaskInput.version': fc.constantFrom(1, 2),
  'SubmitTaskInput.idempotencyKey': fc.oneof(fc.constantFrom('k1', 'k2', '😀'.repeat(255), 'e\u0301', '\u{1d11e}'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 })),
  'SubmitTaskInput.runAt': fc.integer({ min: -60_000, max: 3_600_000 }).map((d) => new Date(Date.now() + d).toISOString()),
  'FileInput.path': fc.constantFrom('a.txt', '/in/b.bin', 'dir/c'),
});
/** Sources: one tiny AssemblyScript program (built once, then cached) and shapes refused before any build. */
const SOURCES = [
  { language: 'ASSEMBLYSCRIPT', files: [{ path: 'main.ts', text: 'console.log("fuzz");\n' }] },
  { language: 'ASSEMBLYSCRIPT', files: [] },
  { language: 'C', files: [{ path: '../main.c', text: '' }] },
  { language: 'ASSEMBLYSCRIPT', files: [{ path: 'main.ts', text: '' }, { path: 'main.ts', text: '' }] },
];
const registerHints = (): Hints => ({
  'RegisterAgentInput.name': fc.constantFrom(...VICTIMS, 'fresh-agent'),
  'RegisterAgentInput.source': fc.constantFrom(...SOURCES),
  'RegisterAgentInput.wat': fc.constantFrom(DEMO_AGENT_WAT, '(module)', '(module (func'),
  'RegisterAgentInput.wasmBase64': fc.constantFrom(w.wasmBase64, 'AGFzbQEAAAA=', '!!!!'),
  'RegisterAgentInput.moduleDigest': fc.constantFrom(w.digest, w.digest.toUpperCase(), '0'.repeat(64)),
});
const taskId = () => fc.constantFrom(...w.taskIds);
const tenantId = () => fc.constantFrom(w.tenantId);
/** A bulk action: ids that exist (and some that do not), or a filter naming agents in use. */
const bulkHints = (field: string): Hints => ({
  [`${field}.ids`]: fc.array(fc.oneof(taskId(), fc.uuid()), { maxLength: 4 }),
  'TaskFilter.agent': fc.constantFrom('hello', ...VICTIMS),
});

const HINTS: Record<string, () => Hints> = {
  submitTask: submitHints,
  submitTasks: () => ({
    ...submitHints(),
    // Small batches with a few odd strings: whole batches get through often enough to count.
    'submitTasks.inputs': fc.array(
      fc.record({ agent: fc.constant('hello'), args: fc.array(anyText, { maxLength: 2 }), idempotencyKey: anyText }, { requiredKeys: ['agent'] }),
      { minLength: 1, maxLength: 3 },
    ),
  }),
  registerAgent: registerHints,
  buildAgent: () => ({ ...registerHints(), 'RegisterAgentInput.source': fc.constantFrom(...SOURCES, null) }),
  build: () => ({ 'build.id': fc.oneof(fc.uuid(), fc.constantFrom('not-an-id', '')) }),
  deleteAgent: () => ({ 'deleteAgent.id': fc.constantFrom(...VICTIMS, 'no-such-agent') }),
  pauseAgent: () => ({ 'pauseAgent.id': fc.constantFrom(CONTROLLED, 'no-such-agent') }),
  resumeAgent: () => ({ 'resumeAgent.id': fc.constantFrom(CONTROLLED, 'no-such-agent') }),
  setAgentConcurrency: () => ({ 'setAgentConcurrency.id': fc.constantFrom(CONTROLLED, 'no-such-agent') }),
  cancelTask: () => ({ 'cancelTask.id': taskId() }),
  retryTask: () => ({ 'retryTask.id': taskId() }),
  cancelTasks: () => bulkHints('cancelTasks'),
  retryTasks: () => bulkHints('retryTasks'),
  deleteTasks: () => bulkHints('deleteTasks'),
  createTenant: () => ({ 'createTenant.name': fc.stringMatching(/^[a-z][a-z0-9 ._@-]{0,20}$/) }),
  setTenantQuotas: () => ({ 'setTenantQuotas.tenantId': tenantId() }),
  setTenantRetention: () => ({ 'setTenantRetention.tenantId': tenantId() }),
  createApiKey: () => ({ 'CreateApiKeyInput.name': fc.constantFrom('ci', 'deploy key'), 'CreateApiKeyInput.tenantId': tenantId() }),
  revokeApiKey: () => ({ 'revokeApiKey.id': fc.constantFrom(...w.keyIds), 'revokeApiKey.tenantId': tenantId() }),
  // Queries with arguments: covered too, though the issue asks for mutations.
  task: () => ({ 'task.id': taskId() }),
  tasks: () => ({
    'tasks.after': fc.oneof(
      fc.constant(w.cursor),
      fc.tuple(fc.constantFrom('-8640000000000000', '8640000000000000', '-62135596800001', '253402300800000', '0x10', ' 5', '5.5', '1e20'), fc.uuid()).map(([ms, id]) => cursorOf(ms, id)),
    ),
    'TaskFilter.agent': fc.constantFrom('hello', ...VICTIMS),
  }),
  agent: () => ({ 'agent.name': fc.constantFrom('hello', ...VICTIMS) }),
  apiKeys: () => ({ 'apiKeys.tenantId': tenantId() }),
};

/** Issue 9's findings (and a few neighbours), tried before the generated cases. */
const EXAMPLES: Record<string, Record<string, unknown>[]> = {
  submitTask: [
    { input: { agent: 'hello', idempotencyKey: 'a\u0000b' } },
    { input: { agent: 'hello', idempotencyKey: 'k\ud800' } },
    { input: { agent: 'hello', args: ['\ud800'] } },
    { input: { agent: 'hello', env: { '\udc00': 'x' } } },
    { input: { agent: 'hello', env: { A: 'x\ud800' } } },
    { input: { agent: 'hello', limits: { fuel: (2n ** 64n).toString() } } },
    { input: { agent: 'hello', limits: { fuel: (2n ** 63n).toString() } } },
    { input: { agent: 'hello', runAt: '0000-01-01T00:00:00Z' } },
  ],
  registerAgent: [
    { input: { name: 'a\u0000b', wat: DEMO_AGENT_WAT } },
    { input: { name: 'described', description: 'x\u0000y', wat: DEMO_AGENT_WAT } },
  ],
  deleteAgent: [{ id: 'a\u0000' }],
  pauseAgent: [{ id: 'a\u0000' }],
  resumeAgent: [{ id: 'a\u0000' }],
  setAgentConcurrency: [{ id: CONTROLLED, limit: 0 }],
  tasks: [{ after: cursorOf('-62135596800001', '00000000-0000-4000-8000-000000000000') }, { filter: { createdAfter: '0000-06-01T00:00:00Z' } }, { filter: { agent: 'a\u0000' } }],
  agent: [{ name: 'a\u0000' }],
};

interface Answer {
  status: number;
  errors: GraphQLFormattedError[];
}

async function send(query: string, variables: Record<string, unknown>): Promise<Answer> {
  const res = await fetch(s.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${s.adminKey}` },
    body: toJson({ query, variables }),
  });
  const text = await res.text();
  let body: { errors?: GraphQLFormattedError[] } = {};
  try {
    body = JSON.parse(text);
  } catch {
    // A non-JSON answer (e.g. 413 from the body parser) is judged by its status alone.
  }
  return { status: res.status, errors: body.errors ?? [] };
}

/** What the property asserts of one answer; returns the outcome for the tally. */
function judge(op: string, a: Answer): string {
  const brief = () => `${op}: HTTP ${a.status} ${JSON.stringify(a.errors).slice(0, 600)}`;
  expect(a.status, brief()).toBeLessThan(500);
  for (const e of a.errors) {
    expect(e.extensions?.code, brief()).toBeTypeOf('string');
    expect(e.extensions?.code, brief()).not.toBe('INTERNAL_SERVER_ERROR');
    // Refused while executing (not by GraphQL's own coercion): our error, naming its field.
    if (e.path && e.extensions?.code === 'BAD_USER_INPUT') expect(e.extensions.field, brief()).toBeTypeOf('string');
  }
  return a.status >= 400 ? `HTTP ${a.status}` : ((a.errors[0]?.extensions?.code as string | undefined) ?? 'ok');
}

const operations = [
  ...Object.values(schema.getMutationType()!.getFields()).map((field) => ({ kind: 'mutation' as const, field })),
  ...Object.values(schema.getQueryType()!.getFields())
    .filter((f) => f.args.length > 0)
    .map((field) => ({ kind: 'query' as const, field })),
];

beforeAll(async () => {
  s = await startTestServer({ AUTH: 'on', ...LIMITS });
  admin = s.as(s.adminKey);
  await admin.gqlOk(`mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }`, { input: { name: 'hello', wat: DEMO_AGENT_WAT } });
  for (const name of [...VICTIMS, CONTROLLED]) await admin.gqlOk(`mutation ($name: String!, $wat: String!) { registerAgent(input: { name: $name, wat: $wat }) { id } }`, { name, wat: DEMO_AGENT_WAT });
  const wasm = await watToWasm(DEMO_AGENT_WAT);
  const upload = await fetch(`${s.url}/modules`, { method: 'POST', headers: { 'content-type': 'application/wasm', authorization: `Bearer ${s.adminKey}` }, body: wasm });
  const { digest } = (await upload.json()) as { digest: string };
  const { createTenant } = await admin.gqlOk(`mutation { createTenant(name: "fuzz") { id } }`);
  const keyIds: string[] = [];
  for (const name of ['k0', 'k1', 'k2']) {
    const { createApiKey } = await admin.gqlOk(`mutation ($t: ID) { createApiKey(input: { name: "${name}", role: viewer, tenantId: $t }) { key { id } } }`, { t: createTenant.id });
    keyIds.push(createApiKey.key.id);
  }
  const taskIds = await freshTasks();
  const { tasks } = await admin.gqlOk(`{ tasks(first: 1) { pageInfo { endCursor } } }`);
  w = { digest, wasmBase64: toBase64(wasm), victimAgents: VICTIMS, tenantId: createTenant.id, keyIds, taskIds, cursor: tasks.pageInfo.endCursor };
  expect(w.tenantId).not.toBe(DEFAULT_TENANT_ID); // setTenantQuotas must not throttle the caller's own tenant
});

/**
 * Tasks of its own for each operation, whatever ran before it (tests run shuffled, and a bulk
 * delete by filter takes every ended task): three waiting (cancelTask has something to cancel) and
 * one cancelled (retryTask has something to retry).
 */
async function freshTasks(): Promise<string[]> {
  const later = new Date(Date.now() + 3_600_000).toISOString();
  const { submitTasks } = await admin.gqlOk(`mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }`, {
    inputs: Array.from({ length: 4 }, () => ({ agent: 'hello', runAt: later })),
  });
  const taskIds = submitTasks.map((t: { id: string }) => t.id);
  await admin.gqlOk(`mutation ($id: ID!) { cancelTask(id: $id) { id } }`, { id: taskIds[0] });
  return taskIds;
}

beforeEach(async () => {
  if (w) w.taskIds = await freshTasks();
});

afterAll(async () => {
  await s?.close();
});

describe('generated input', () => {
  it('has generators for every mutation of the schema', () => {
    const mutations = Object.keys(schema.getMutationType()!.getFields()).sort();
    expect(mutations.filter((m) => !HINTS[m])).toEqual([]);
    expect(operations.filter((o) => !HINTS[o.field.name]).map((o) => o.field.name)).toEqual([]);
  });

  it.each(operations.map((o) => [o.field.name, o] as const))(`%s: ${RUNS} generated cases, none answered INTERNAL_SERVER_ERROR`, async (name, { kind, field }) => {
    const query = operationFor(kind, field);
    const tally = new Map<string, number>();
    const examples = (EXAMPLES[name] ?? []).map((v) => [v] as [Record<string, unknown>]);
    await fc.assert(
      fc.asyncProperty(argumentsFor(field, HINTS[name]!()), async (variables) => {
        const outcome = judge(name, await send(query, variables));
        tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
      }),
      { seed: SEED, numRuns: RUNS, examples, endOnFailure: true },
    );
    console.log(`${name}: ${[...tally].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    // The cases reached both sides: some accepted, some refused as bad input.
    expect(tally.get('ok') ?? 0, `${name} accepted nothing`).toBeGreaterThan(0);
    expect((tally.get('BAD_USER_INPUT') ?? 0) + (tally.get('HTTP 400') ?? 0), `${name} refused nothing`).toBeGreaterThan(0);
  }, 120_000);

  it('leaves the node serving, the admin key working', async () => {
    expect((await admin.gqlOk(`{ me { systemAdmin } }`)).me.systemAdmin).toBe(true);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  });
});
