import { describe, expect, it } from 'vitest';
import { isUuid, uuidv7 } from '../../src/store/ids.js';
import { bytes, limitsToJson, toAgentVersionRow, toTaskRow, type TaskRecord } from '../../src/store/map.js';

describe('uuidv7', () => {
  it('makes valid version-7 UUIDs that sort in creation order, even within one millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7());
    for (const id of ids) {
      expect(isUuid(id)).toBe(true);
      expect(id[14]).toBe('7');
      expect('89ab').toContain(id[19]);
    }
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('carries the creation time in its first 48 bits and fresh random bits past every pool refill', () => {
    const before = Date.now();
    const ids = Array.from({ length: 2000 }, () => uuidv7()); // ~4 refills of the 512-id pool
    const after = Date.now();
    const first = parseInt(ids[0]!.slice(0, 8) + ids[0]!.slice(9, 13), 16);
    expect(first).toBeGreaterThanOrEqual(before);
    // The counter may borrow a few ms within one millisecond's 4,096 ids, never more.
    expect(first).toBeLessThanOrEqual(after + 1);
    const randomParts = ids.map((id) => id.slice(19));
    expect(new Set(randomParts).size).toBe(ids.length);
    expect(new Set(ids.map((id) => id.slice(24, 26))).size).toBeGreaterThan(200); // bytes spread over 0-255
  });

  it('isUuid rejects what the database would reject', () => {
    expect(isUuid('not-a-uuid')).toBe(false);
    expect(isUuid('00000000-0000-0000-0000-00000000000')).toBe(false);
    expect(isUuid('00000000-0000-0000-0000-000000000000')).toBe(true);
  });
});

/** A task record as Prisma returns it. */
const taskRecord = {
  id: 'x', tenantId: 't', agentId: 'a', agentVersionId: 'v', moduleDigest: 'd', status: 'QUEUED', priority: 0,
  stdin: Buffer.from([1]), args: [], env: {}, filesDigest: null, timeoutMs: 10, memoryBytes: 65536n, fuel: null, maxOutputBytes: 5,
  retry: { maxAttempts: 1, initialBackoffMs: 1, maxBackoffMs: 1, retryOn: [] }, deterministic: null,
  idempotencyKey: null, traceContext: null, wasi: null, attempts: 0, attemptBase: 0, runAt: new Date(0), queuedAt: new Date(0), leaseOwner: null, leaseExpiresAt: null,
  lastOutcome: null, exitCode: null, createdAt: new Date(0), updatedAt: new Date(0), startedAt: null, finishedAt: null,
};

describe('map', () => {
  it('bytes gives a plain Uint8Array view of a Buffer without copying', () => {
    const buf = Buffer.from('hello world');
    const view = bytes(buf.subarray(6));
    expect(view.constructor).toBe(Uint8Array);
    expect(view.buffer).toBe(buf.buffer);
    expect(new TextDecoder().decode(view)).toBe('world');
    const plain = new Uint8Array([1]);
    expect(bytes(plain)).toBe(plain);
  });

  it('normalises int8 from either driver (bigint or decimal string) and drops a null fuel', () => {
    const fromPg = toTaskRow({ ...taskRecord, memoryBytes: '4294967296', fuel: '12345678901234' } as TaskRecord);
    expect(fromPg.limits).toEqual({ timeoutMs: 10, memoryBytes: 4294967296, maxOutputBytes: 5, fuel: 12345678901234n });
    const fromPrisma = toTaskRow({ ...taskRecord, memoryBytes: 65536n, fuel: null } as TaskRecord);
    expect(fromPrisma.limits).toEqual({ timeoutMs: 10, memoryBytes: 65536, maxOutputBytes: 5 });
    expect('fuel' in fromPrisma.limits).toBe(false);
    expect(fromPrisma.stdin.constructor).toBe(Uint8Array);
  });

  it('parses the stored retry policy and refuses a malformed one, naming the row and the column', () => {
    const policy = { maxAttempts: 2, initialBackoffMs: 5, maxBackoffMs: 50, retryOn: ['trap'] };
    expect(toTaskRow({ ...taskRecord, retry: policy } as TaskRecord).retryPolicy).toEqual(policy);
    // A policy another build stored under other names, and one with an unknown outcome kind.
    const renamed = { maxAttempts: 2, backoffInitialMs: 5, backoffMaxMs: 50, retryOn: [] };
    expect(() => toTaskRow({ ...taskRecord, retry: renamed } as TaskRecord)).toThrow(/^task x: column retry holds a malformed value: .*initialBackoffMs/);
    expect(() => toTaskRow({ ...taskRecord, retry: { ...policy, retryOn: ['cancelled'] } } as TaskRecord)).toThrow(/task x: column retry holds a malformed value: .*retryOn/);
    expect(() => toTaskRow({ ...taskRecord, retry: null } as TaskRecord)).toThrow(/task x: column retry holds a malformed value/);
  });

  it('refuses malformed stored default limits, naming the agent version', () => {
    const version = (defaultLimits: unknown) => ({
      id: 'v', agentId: 'a', tenantId: 't', version: 1, moduleDigest: 'd', moduleSize: 1, imports: [], exports: [],
      memoryInitialPages: null, memoryMaximumPages: null, defaultLimits: defaultLimits as object, createdAt: new Date(0),
    });
    expect(toAgentVersionRow(version({})).defaultLimits).toEqual({});
    expect(() => toAgentVersionRow(version({ timeoutMs: '10' }))).toThrow(/^agent version v: column default_limits holds a malformed value: .*timeoutMs/);
    expect(() => toAgentVersionRow(version({ fuel: 12 }))).toThrow(/agent version v: column default_limits holds a malformed value: .*fuel/);
  });

  it('round-trips default limits with a bigint fuel through JSON', () => {
    const json = JSON.parse(JSON.stringify(limitsToJson({ timeoutMs: 5, fuel: 2n ** 60n })));
    const row = toAgentVersionRow({
      id: 'v', agentId: 'a', tenantId: 't', version: 1, moduleDigest: 'd', moduleSize: 1, imports: [], exports: [],
      memoryInitialPages: null, memoryMaximumPages: null, defaultLimits: json, createdAt: new Date(0),
    });
    expect(row.defaultLimits).toEqual({ timeoutMs: 5, fuel: 2n ** 60n });
  });
});
