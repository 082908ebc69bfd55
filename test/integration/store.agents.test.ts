import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_ID, type NewAgentVersion, type Store } from '../../src/store/index.js';
import { makeTestStore, type TestStore } from '../helpers/store.js';

let ts: TestStore;
let store: Store;
beforeAll(async () => {
  ts = await makeTestStore();
  store = ts.store;
});
afterAll(async () => ts?.cleanup());

const version = (over: Partial<NewAgentVersion> = {}): NewAgentVersion => ({
  tenantId: DEFAULT_TENANT_ID,
  name: 'echo',
  description: 'echoes stdin',
  moduleDigest: '1'.repeat(64),
  moduleSize: 1234,
  imports: [{ module: 'wasi_snapshot_preview1', name: 'fd_write', kind: 'function' }],
  exports: [{ name: '_start', kind: 'function' }, { name: 'memory', kind: 'memory' }],
  memoryInitialPages: 2,
  memoryMaximumPages: 16,
  defaultLimits: { timeoutMs: 500, fuel: 9_000_000_000n },
  ...over,
});

describe('agents', () => {
  it('registers: creates the agent on first registration, then adds versions', async () => {
    const first = await store.agents.registerVersion(version());
    expect(first.agent).toMatchObject({ tenantId: DEFAULT_TENANT_ID, name: 'echo', description: 'echoes stdin', latestVersion: 1, deletedAt: null });
    expect(first.version).toMatchObject({
      agentId: first.agent.id,
      tenantId: DEFAULT_TENANT_ID,
      version: 1,
      moduleDigest: '1'.repeat(64),
      moduleSize: 1234,
      imports: [{ module: 'wasi_snapshot_preview1', name: 'fd_write', kind: 'function' }],
      memoryInitialPages: 2,
      memoryMaximumPages: 16,
      defaultLimits: { timeoutMs: 500, fuel: 9_000_000_000n },
    });
    const second = await store.agents.registerVersion(version({ moduleDigest: '2'.repeat(64), description: null }));
    expect(second.agent).toMatchObject({ id: first.agent.id, latestVersion: 2, description: 'echoes stdin' });
    expect(second.version.version).toBe(2);

    expect(await store.agents.get(DEFAULT_TENANT_ID, first.agent.id)).toMatchObject({ latestVersion: 2 });
    expect((await store.agents.getByName(DEFAULT_TENANT_ID, 'echo'))?.id).toBe(first.agent.id);
    expect((await store.agents.versions(first.agent.id)).map((v) => v.version)).toEqual([1, 2]);
    expect((await store.agents.version(first.agent.id))?.version).toBe(2);
    expect((await store.agents.version(first.agent.id, 1))?.moduleDigest).toBe('1'.repeat(64));
    expect(await store.agents.version(first.agent.id, 3)).toBeNull();
    expect(await store.agents.getVersion(second.version.id)).toEqual(second.version);
    expect(await store.agents.getVersion('nope')).toBeNull();
  });

  it('concurrent registrations of a new name make one agent with consecutive versions', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => store.agents.registerVersion(version({ name: 'race', moduleDigest: String(i).repeat(64) }))),
    );
    expect(new Set(results.map((r) => r.agent.id)).size).toBe(1);
    expect(results.map((r) => r.version.version).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it('returns the latest version for the same registration again, also when several race', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => store.agents.registerVersion(version({ name: 'same' }))));
    expect(new Set(results.map((r) => r.version.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const first = results[0]!;
    expect(first.version.version).toBe(1);
    // No description is "keep the agent's"; limits are compared as given, key order aside.
    const again = await store.agents.registerVersion(version({ name: 'same', description: null, defaultLimits: { fuel: 9_000_000_000n, timeoutMs: 500 } }));
    expect(again).toMatchObject({ created: false, version: { id: first.version.id }, agent: { latestVersion: 1 } });

    const described = await store.agents.registerVersion(version({ name: 'same', description: 'echoes stdin, now described' }));
    expect(described).toMatchObject({ created: true, version: { version: 2 }, agent: { latestVersion: 2, description: 'echoes stdin, now described' } });
    const limited = await store.agents.registerVersion(version({ name: 'same', defaultLimits: { timeoutMs: 501, fuel: 9_000_000_000n } }));
    expect(limited).toMatchObject({ created: true, version: { version: 3 } });
    // Only the latest version is reused: going back to version 1's registration adds a version.
    const back = await store.agents.registerVersion(version({ name: 'same', description: 'echoes stdin, now described' }));
    expect(back).toMatchObject({ created: true, version: { version: 4 } });
  });

  it('names are per tenant; delete is soft and frees the name', async () => {
    const other = await store.tenants.create('agents-other');
    const mine = await store.agents.registerVersion(version({ name: 'shared' }));
    const theirs = await store.agents.registerVersion(version({ name: 'shared', tenantId: other.id }));
    expect(theirs.agent.id).not.toBe(mine.agent.id);
    expect(theirs.version.version).toBe(1);
    expect(await store.agents.get(other.id, mine.agent.id)).toBeNull();
    expect(await store.agents.delete(other.id, mine.agent.id)).toBe(false);

    expect(await store.agents.delete(DEFAULT_TENANT_ID, mine.agent.id)).toBe(true);
    expect(await store.agents.delete(DEFAULT_TENANT_ID, mine.agent.id)).toBe(false);
    expect(await store.agents.getByName(DEFAULT_TENANT_ID, 'shared')).toBeNull();
    expect((await store.agents.list(DEFAULT_TENANT_ID)).map((a) => a.name)).not.toContain('shared');
    const deleted = await store.agents.get(DEFAULT_TENANT_ID, mine.agent.id);
    expect(deleted?.deletedAt).toBeInstanceOf(Date);
    expect(await store.agents.versions(mine.agent.id)).toHaveLength(1);

    const reborn = await store.agents.registerVersion(version({ name: 'shared' }));
    expect(reborn.agent.id).not.toBe(mine.agent.id);
    expect(reborn.version.version).toBe(1);
  });

  it("name (the executor's read) finds an agent by id in its tenant, deleted or not", async () => {
    const other = await store.tenants.create('agents-name-other');
    const { agent } = await store.agents.registerVersion(version({ name: 'named' }));
    expect(await store.agents.name(DEFAULT_TENANT_ID, agent.id)).toBe('named');
    expect(await store.agents.name(other.id, agent.id)).toBeNull();
    expect(await store.agents.name(DEFAULT_TENANT_ID, '00000000-0000-0000-0000-00000000beef')).toBeNull();
    expect(await store.agents.name(DEFAULT_TENANT_ID, 'not-a-uuid')).toBeNull();
    await store.agents.delete(DEFAULT_TENANT_ID, agent.id);
    expect(await store.agents.name(DEFAULT_TENANT_ID, agent.id)).toBe('named');
  });
});

describe('modules', () => {
  it('records per tenant and sums stored bytes; registration records too', async () => {
    const t = await store.tenants.create('modules-tenant');
    expect(await store.modules.storedBytes(t.id)).toBe(0);
    await store.modules.record(t.id, 'a'.repeat(64), 100);
    await store.modules.record(t.id, 'a'.repeat(64), 100);
    await store.agents.registerVersion(version({ tenantId: t.id, name: 'm', moduleDigest: 'b'.repeat(64), moduleSize: 50 }));
    expect(await store.modules.storedBytes(t.id)).toBe(150);
    expect((await store.modules.list(t.id)).map((m) => m.digest).sort()).toEqual(['a'.repeat(64), 'b'.repeat(64)]);
    expect(await store.modules.get(t.id, 'a'.repeat(64))).toMatchObject({ digest: 'a'.repeat(64), size: 100 });
    expect(await store.modules.get(t.id, 'c'.repeat(64))).toBeNull();
  });
});

describe('tenants and api keys', () => {
  it('creates tenants (names unique) and keys; finds by hash; revokes; touches', async () => {
    const t = await store.tenants.create('keys');
    await expect(store.tenants.create('keys')).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await store.tenants.getByName('keys'))?.id).toBe(t.id);
    const k = await store.apiKeys.create({ tenantId: t.id, name: 'ci', prefix: 'sp_abcd', secretHash: 'h'.repeat(64), role: 'submitter' });
    expect(k).toMatchObject({ tenantId: t.id, name: 'ci', prefix: 'sp_abcd', role: 'submitter', revokedAt: null, lastUsedAt: null });
    await store.apiKeys.create({ tenantId: t.id, name: 'ro', prefix: 'sp_efgh', secretHash: 'g'.repeat(64), role: 'viewer' });
    expect((await store.apiKeys.findByHash('h'.repeat(64)))?.id).toBe(k.id);
    expect(await store.apiKeys.findByHash('x')).toBeNull();
    expect((await store.apiKeys.list(t.id)).map((r) => r.name)).toEqual(['ro', 'ci']);
    await store.apiKeys.touch(k.id);
    expect((await store.apiKeys.findByHash('h'.repeat(64)))?.lastUsedAt).toBeInstanceOf(Date);
    expect(await store.apiKeys.revoke(DEFAULT_TENANT_ID, k.id)).toBeNull();
    const revoked = await store.apiKeys.revoke(t.id, k.id);
    expect(revoked?.revokedAt).toBeInstanceOf(Date);
    expect((await store.apiKeys.revoke(t.id, k.id))?.revokedAt?.getTime()).toBe(revoked!.revokedAt!.getTime());
  });
});
