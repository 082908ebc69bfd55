// Pure pieces of the access model: key format and hashing, bearer parsing, roles, the AUTH/HOST
// rule, secret-safe config errors, the depth and nesting checks, and the submit token bucket.
import { parse, specifiedRules, validate } from 'graphql';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, isLoopback, loadConfig } from '../../src/config/index.js';
import { ANONYMOUS, hasRole, NO_OVERRIDES, SpindleError, type Principal } from '../../src/domain/index.js';
import { checkNesting, depthLimitRule, FIELD_COSTS, maxNestingFor, operationCost } from '../../src/graphql/cost.js';
import { makeSchema } from '../../src/graphql/schema.js';
import { bearerOf, generateApiKey, hashApiKey, makeAuthenticator, requireRole, requireSystem } from '../../src/services/auth.service.js';
import { makeQuotas } from '../../src/services/quota.service.js';
import type { StatsService } from '../../src/services/stats.service.js';
import type { Store } from '../../src/store/types.js';

const key = (role: Principal['role'], system = false): Principal => ({ kind: 'apiKey', keyId: 'k', keyName: 'n', tenantId: 't', role, system });

describe('API keys', () => {
  it('are spd_ + 256 random bits, stored as sha256, shown by a short prefix', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.secret).toMatch(/^spd_[A-Za-z0-9_-]{43}$/);
    expect(a.secret).not.toBe(b.secret);
    expect(a.secretHash).toBe(hashApiKey(a.secret));
    expect(a.secretHash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.prefix).toBe(a.secret.slice(0, 10));
    expect(a.secret.length - a.prefix.length).toBeGreaterThanOrEqual(36); // ≥ 216 secret bits stay hidden
  });

  it('are read from Authorization: Bearer (any case) or a bare value', () => {
    expect(bearerOf({ authorization: 'Bearer spd_abc' })).toBe('spd_abc');
    expect(bearerOf({ Authorization: 'bearer   spd_abc  ' })).toBe('spd_abc');
    expect(bearerOf({ authorization: 'spd_abc' })).toBe('spd_abc');
    expect(bearerOf({ authorization: '' })).toBeNull();
    expect(bearerOf({ authorization: 42 })).toBeNull();
    expect(bearerOf({})).toBeNull();
  });
});

describe('the authenticator', () => {
  const known = generateApiKey();
  const row = { id: 'key-1', tenantId: 'tenant-1', name: 'k', prefix: known.prefix, secretHash: known.secretHash, role: 'viewer' as const, createdAt: new Date(), lastUsedAt: null, revokedAt: null };
  let lookups = 0;
  const store = {
    apiKeys: {
      findByHash: async (hash: string) => (lookups++, hash === known.secretHash ? row : null),
      touch: async () => {},
    },
  } as unknown as Store;

  it('with AUTH=on: requires a key, refuses unknown ones, resolves known ones (cached)', async () => {
    const auth = makeAuthenticator({ store, enabled: true });
    await expect(auth.authenticate({})).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(auth.authenticate({ authorization: `Bearer spd_${'z'.repeat(43)}` })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(auth.authenticate({ authorization: 'Bearer short' })).rejects.toThrow(/not valid/);
    const before = lookups;
    const p = await auth.authenticate({ authorization: `Bearer ${known.secret}` });
    expect(p).toMatchObject({ kind: 'apiKey', tenantId: 'tenant-1', role: 'viewer', system: false });
    await auth.authenticate({ authorization: `Bearer ${known.secret}` });
    expect(lookups - before).toBe(1);
    auth.forget('key-1');
    await auth.authenticate({ authorization: `Bearer ${known.secret}` });
    expect(lookups - before).toBe(2);
  });

  it('with AUTH=off: no key or an unknown key is the default admin; a known key keeps its tenant and role', async () => {
    const auth = makeAuthenticator({ store, enabled: false });
    expect(await auth.authenticate({})).toBe(ANONYMOUS);
    expect(await auth.authenticate({ authorization: 'Bearer e2e-secret' })).toBe(ANONYMOUS);
    expect(await auth.authenticate({ authorization: `Bearer ${known.secret}` })).toMatchObject({ tenantId: 'tenant-1', role: 'viewer' });
  });
});

describe('roles', () => {
  it('rank admin ⊇ submitter ⊇ viewer', () => {
    expect(hasRole(key('admin'), 'submitter')).toBe(true);
    expect(hasRole(key('submitter'), 'viewer')).toBe(true);
    expect(hasRole(key('submitter'), 'admin')).toBe(false);
    expect(hasRole(key('viewer'), 'submitter')).toBe(false);
    expect(hasRole(ANONYMOUS, 'admin')).toBe(true);
  });

  it('refuse with FORBIDDEN naming the role needed', () => {
    expect(() => requireRole(key('viewer'), 'submitter', 'submitTask')).toThrow(/submitTask needs the submitter role; this key is a viewer/);
    try {
      requireSystem(key('admin'), 'createTenant');
    } catch (err) {
      expect(err).toBeInstanceOf(SpindleError);
      expect((err as SpindleError).code).toBe('FORBIDDEN');
    }
    expect(() => requireSystem(key('admin', true), 'createTenant')).not.toThrow();
  });
});

describe('AUTH and HOST', () => {
  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com', '128.0.0.1']) expect(isLoopback(h)).toBe(false);
  });

  it('defaults to off on loopback and on elsewhere, saying why', () => {
    expect(loadConfig({ HOST: '127.0.0.1' }).auth).toMatchObject({ enabled: false, reason: expect.stringMatching(/loopback/) });
    expect(loadConfig({ HOST: '0.0.0.0' }).auth).toMatchObject({ enabled: true, reason: expect.stringMatching(/not a loopback/) });
    expect(loadConfig({ HOST: '127.0.0.1', AUTH: 'on' }).auth.enabled).toBe(true);
  });

  it('refuses AUTH=off on a non-loopback HOST, naming both variables', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0', AUTH: 'off' })).toThrow(ConfigError);
    expect(() => loadConfig({ HOST: '0.0.0.0', AUTH: 'off' })).toThrow(/AUTH=off.*HOST/);
    expect(() => loadConfig({ AUTH: 'maybe' })).toThrow(/AUTH must be on or off/);
  });

  it('never echoes SPINDLE_ADMIN_KEY in an error', () => {
    const bad = 'spd_tooShort-but-secret';
    let message = '';
    try {
      loadConfig({ SPINDLE_ADMIN_KEY: bad });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/SPINDLE_ADMIN_KEY must be spd_/);
    expect(message).not.toContain(bad);
    const good = `spd_${'x'.repeat(40)}`;
    expect(loadConfig({ SPINDLE_ADMIN_KEY: good }).auth.adminKey).toBe(good);
  });

  it('resolves quotas and GraphQL limits with their defaults', () => {
    const c = loadConfig({});
    expect(c.quotas).toEqual({ queuedTasks: 100_000, activeTasks: 200_000, runningTasks: 0, storedBytes: 1024 ** 3, submitRate: 10_000, submitBurst: 20_000, taskBytes: 64 * 1024 ** 3 });
    expect(c.graphql).toMatchObject({ introspection: true, maxDepth: 12, maxCost: 50_000 });
    expect(loadConfig({ INTROSPECTION: 'false' }).graphql.introspection).toBe(false);
  });
});

describe('operation limits', () => {
  it('measures depth through fragments and inline fragments, and survives cycles', async () => {
    const schema = await makeSchema();
    const errors = (q: string, max: number) => validate(schema, parse(q), [...specifiedRules, depthLimitRule(max)]).map((e) => e.message);
    const q = `{ tasks { edges { node { agent { versions { imports { name } } } } } } }`; // depth 7
    expect(errors(q, 7)).toEqual([]);
    expect(errors(q, 6)).toEqual([expect.stringMatching(/more than 6 levels deep \(MAX_QUERY_DEPTH\)/)]);
    const viaFragment = `{ tasks { ...T } } fragment T on TaskConnection { edges { node { ... on Task { agent { versions { imports { name } } } } } } }`;
    expect(errors(viaFragment, 6)).toHaveLength(1);
    const cyclic = `{ tasks { ...A } } fragment A on TaskConnection { ...B } fragment B on TaskConnection { ...A }`;
    expect(errors(cyclic, 6).some((m) => /Cannot spread fragment/.test(m))).toBe(true);
  });

  it('costs pages by their size, and a count once per connection', async () => {
    const schema = await makeSchema();
    const cost = (q: string, v?: Record<string, unknown>) => operationCost(schema, parse(q), v);
    const row = cost(`{ tasks(first: 2) { edges { node { id } } } }`) - cost(`{ tasks(first: 1) { edges { node { id } } } }`);
    expect(row).toBeGreaterThanOrEqual(FIELD_COSTS['TaskEdge.node']!);
    expect(cost(`{ tasks(first: 10) { edges { node { id } } } }`)).toBe(cost(`{ tasks(first: 1) { edges { node { id } } } }`) + 9 * row);
    // The rows of a page are read even when only the count is asked for; the count is paid once.
    const count = FIELD_COSTS['TaskConnection.totalCount']!;
    expect(cost(`query ($n: Int) { tasks(first: $n) { totalCount } }`, { n: 400 })).toBe(FIELD_COSTS['Query.tasks']! + 400 * FIELD_COSTS['TaskEdge.node']! + count);
    expect(cost(`{ tasks(first: 1) { totalCount } }`)).toBeGreaterThan(count);
    // A field resolved in memory costs 1; a small read its table cost.
    expect(cost(`{ me { role } }`)).toBe(FIELD_COSTS['Query.me']! + 1);
    expect(cost(`{ task(id: "x") { attemptList { n } } }`)).toBe(FIELD_COSTS['Query.task']! + FIELD_COSTS['Task.attemptList']! + 1);
  });

  it('costs a bulk action by its tasks: its ids, or with a filter BULK_MAX of them', async () => {
    const schema = await makeSchema();
    const result = '{ matched done skipped remaining }';
    const byIds = (action: string, n: number) =>
      operationCost(schema, parse(`mutation ($ids: [ID!]) { ${action}(ids: $ids) ${result} }`), { ids: Array.from({ length: n }, (_, i) => String(i)) });
    const fields = 4; // the result's four counts, in memory
    expect(byIds('cancelTasks', 1000)).toBe(FIELD_COSTS['Mutation.cancelTasks']! + 1000 * 2 + fields);
    expect(byIds('retryTasks', 10)).toBe(FIELD_COSTS['Mutation.retryTasks']! + 10 * 2 + fields);
    // A delete also removes attempts and looks up the blobs they named.
    expect(byIds('deleteTasks', 1000)).toBe(FIELD_COSTS['Mutation.deleteTasks']! + 1000 * 4 + fields);
    const byFilter = (bulkMax: number) => operationCost(schema, parse(`mutation { deleteTasks(filter: { status: [SUCCEEDED] }) ${result} }`), {}, null, { bulkMax });
    expect(byFilter(10_000)).toBe(FIELD_COSTS['Mutation.deleteTasks']! + 10_000 * 4 + fields);
    // With the defaults (BULK_MAX 10,000, MAX_QUERY_COST 50,000) one filter call fits and two do not.
    expect(byFilter(10_000)).toBeLessThanOrEqual(50_000);
    expect(operationCost(schema, parse(`mutation { a: deleteTasks(filter: {}) ${result} b: deleteTasks(filter: {}) ${result} }`), {}, null, { bulkMax: 10_000 })).toBeGreaterThan(50_000);
  });

  it('refuses an operation with more selections than can be costed, as one that costs too much', async () => {
    const schema = await makeSchema();
    const many = `{ ${Array.from({ length: 10_000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    expect(() => operationCost(schema, parse(many), {})).toThrow(expect.objectContaining({ extensions: expect.objectContaining({ code: 'LIMIT_EXCEEDED', quota: 'MAX_QUERY_COST' }) }));
    const fewer = `{ ${Array.from({ length: 9_000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    expect(operationCost(schema, parse(fewer), {})).toBe(9_000);
  });

  it('refuses deep bracket nesting before parsing, lets syntax errors through to the parser', () => {
    expect(maxNestingFor(12)).toBe(56);
    expect(() => checkNesting(`{ ${'a { '.repeat(100)} ${'} '.repeat(100)} }`, 56, 50_000)).toThrow(/MAX_QUERY_DEPTH/);
    expect(() => checkNesting(`{ a(x: ${'['.repeat(100)}${']'.repeat(100)}) }`, 56, 50_000)).toThrow(/MAX_QUERY_DEPTH/);
    expect(() => checkNesting(`{ a { b } }`, 56, 50_000)).not.toThrow();
    expect(() => checkNesting(`{ "unterminated`, 56, 50_000)).not.toThrow();
    // A string full of braces is one token, not nesting.
    expect(() => checkNesting(`{ a(s: "${'{'.repeat(1000)}") }`, 56, 50_000)).not.toThrow();
  });
});

describe('submit quotas', () => {
  const config = loadConfig({ QUOTA_SUBMIT_RATE: '10', QUOTA_SUBMIT_BURST: '20', QUOTA_QUEUED_TASKS: '100', QUOTA_ACTIVE_TASKS: '100' });
  const counts = { QUEUED: 0, RUNNING: 0, RETRYING: 0, SUCCEEDED: 0, FAILED: 0, CANCELLED: 0 };
  beforeEach(() => void Object.assign(counts, { QUEUED: 0, RUNNING: 0, RETRYING: 0 })); // each test sets its own
  const stats = {
    counts: async () => counts,
    active: async () => ({ waiting: counts.QUEUED + counts.RETRYING, running: counts.RUNNING }),
  } as unknown as StatsService;
  // Tenant 'o' has its own queued-tasks and rate overrides; the others use the server defaults.
  const overrides = { ...NO_OVERRIDES, queuedTasks: 10, submitRate: 2, submitBurst: 4 };
  const store = { tenants: { get: async (id: string) => (id === 'o' ? { quotas: overrides } : null) }, retention: { taskBytes: async () => 0 } } as unknown as Store;

  it('a token bucket per tenant: burst at once, then the rate; batches all or nothing', async () => {
    let now = 0;
    const q = makeQuotas({ config, store, stats, now: () => now });
    await q.checkSubmit('a', 20);
    await expect(q.checkSubmit('a', 1)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED', details: { quota: 'QUOTA_SUBMIT_RATE', limit: '10', retryAfterMs: 100 } });
    await q.checkSubmit('b', 20); // another tenant has its own bucket
    now += 500; // +5 tokens
    await expect(q.checkSubmit('a', 6)).rejects.toMatchObject({ details: { quota: 'QUOTA_SUBMIT_RATE' } });
    await q.checkSubmit('a', 5);
    now += 60_000;
    await expect(q.checkSubmit('a', 21)).rejects.toMatchObject({ details: { quota: 'QUOTA_SUBMIT_BURST', limit: '20' } });
    await q.checkSubmit('a', 20); // refilled to the burst, never beyond
    await expect(q.checkSubmit('a', 1)).rejects.toMatchObject({ details: { quota: 'QUOTA_SUBMIT_RATE' } });
  });

  it('counts waiting and unfinished tasks with the new ones', async () => {
    const q = makeQuotas({ config, store, stats });
    counts.QUEUED = 90;
    counts.RETRYING = 5;
    await expect(q.checkSubmit('a', 6)).rejects.toMatchObject({ details: { quota: 'QUOTA_QUEUED_TASKS', limit: '100' } });
    await q.checkSubmit('a', 5);
    counts.QUEUED = 0;
    counts.RETRYING = 0;
    counts.RUNNING = 98;
    await expect(q.checkSubmit('a', 3)).rejects.toMatchObject({ details: { quota: 'QUOTA_ACTIVE_TASKS' } });
    await expect(q.checkSubmit('a', 3)).rejects.toThrow(/98 unfinished \+ 3 new > 100 \(QUOTA_ACTIVE_TASKS\)/);
  });

  it("uses a tenant's overrides, named with their value", async () => {
    let now = 0;
    const q = makeQuotas({ config, store, stats, now: () => now });
    counts.RUNNING = 0;
    counts.QUEUED = 8;
    await expect(q.checkSubmit('o', 3)).rejects.toMatchObject({ details: { quota: 'QUOTA_QUEUED_TASKS', limit: '10' } });
    await expect(q.checkSubmit('o', 3)).rejects.toThrow(/> 10 \(QUOTA_QUEUED_TASKS, set for this tenant\)/);
    counts.QUEUED = 0;
    await expect(q.checkSubmit('o', 5)).rejects.toMatchObject({ details: { quota: 'QUOTA_SUBMIT_BURST', limit: '4' } });
    await q.checkSubmit('o', 4);
    await expect(q.checkSubmit('o', 1)).rejects.toMatchObject({ details: { quota: 'QUOTA_SUBMIT_RATE', limit: '2', retryAfterMs: 500 } });
    now += 1000;
    await q.checkSubmit('o', 2);
    await q.checkSubmit('a', 20); // the defaults elsewhere
  });
});
