import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { CONFIG_OPTIONS, ConfigError, loadConfig, OPTION_SPECS, optionRange, QUOTA_OPTIONS } from '../../src/config/index.js';

const MiB = 1024 * 1024;

describe('loadConfig', () => {
  it('fills every default from an empty environment', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      dataDir: './data',
      databaseUrl: undefined,
      s3: undefined,
      redisUrl: undefined,
      workers: os.availableParallelism(),
      role: 'all',
      limits: {
        defaults: { timeoutMs: 10_000, memoryBytes: 64 * MiB, maxOutputBytes: 1 * MiB },
        max: { timeoutMs: 300_000, memoryBytes: 1024 * MiB, maxOutputBytes: 16 * MiB, fuel: undefined },
      },
      retry: { defaultMaxAttempts: 3, maxAttemptsLimit: 10, backoffInitialMs: 1000, backoffMaxMs: 60_000 },
      maxModuleBytes: 32 * MiB,
      maxBatch: 1000,
      leaseMs: 30_000,
      logLevel: 'info',
    });
    expect(c.nodeId).toMatch(new RegExp(`^${os.hostname()}-${process.pid}-[0-9a-f]{4}$`));
    expect(c.limits.defaults.fuel).toBeUndefined();
  });

  it('is deeply frozen', () => {
    const c = loadConfig({});
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.limits.defaults)).toBe(true);
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow();
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: ' ' })).toMatchObject({ port: 4000, databaseUrl: undefined });
  });

  it('names the variable and the allowed range for a bad value', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT must be an integer between 0 and 65535 \(got "abc"\)/);
    expect(() => loadConfig({ MAX_TIMEOUT_MS: '-5' })).toThrow(/MAX_TIMEOUT_MS must be an integer between 1 and/);
    expect(() => loadConfig({ ROLE: 'boss' })).toThrow(/ROLE must be one of all, api, worker/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL must be a postgres/);
    expect(() => loadConfig({ REDIS_URL: 'localhost:6379' })).toThrow(/REDIS_URL must be a redis/);
    expect(() => loadConfig({ S3_USE_SSL: 'maybe' })).toThrow(/S3_USE_SSL must be true or false/);
  });

  it('takes QUOTA_RUNNING_TASKS from 0 (no cap, the default) to its maximum, and exposes the range for overrides', () => {
    expect(loadConfig({}).quotas.runningTasks).toBe(0);
    expect(loadConfig({ QUOTA_RUNNING_TASKS: '1000000' }).quotas.runningTasks).toBe(1_000_000);
    expect(() => loadConfig({ QUOTA_RUNNING_TASKS: '1000001' })).toThrow(/QUOTA_RUNNING_TASKS must be an integer between 0 and 1000000 \(got "1000001"\)/);
    expect(() => loadConfig({ QUOTA_RUNNING_TASKS: '-1' })).toThrow(/QUOTA_RUNNING_TASKS must be an integer between 0 and 1000000/);
    expect(optionRange('QUOTA_RUNNING_TASKS')).toEqual({ min: 0, max: 1_000_000 });
    expect(optionRange('QUOTA_STORED_BYTES')).toEqual({ min: 0, max: 1024 ** 4 });
    for (const name of Object.values(QUOTA_OPTIONS)) expect(OPTION_SPECS.some((o) => o.name === name && o.range)).toBe(true);
    expect(() => optionRange('HOST')).toThrow(/no numeric range/);
  });

  it('reports every bad variable at once', () => {
    try {
      loadConfig({ PORT: '70000', WORKERS: '0', LOG_LEVEL: 'loud' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.map((p) => p.split(' ')[0])).toEqual(['PORT', 'WORKERS', 'LOG_LEVEL']);
    }
  });

  it('accepts byte sizes with binary units', () => {
    const c = loadConfig({ DEFAULT_MEMORY_BYTES: '16MiB', MAX_MEMORY_BYTES: '2GiB', MAX_MODULE_BYTES: '512k', MAX_STDIN_BYTES: '1048576' });
    expect(c.limits.defaults.memoryBytes).toBe(16 * MiB);
    expect(c.limits.max.memoryBytes).toBe(2048 * MiB);
    expect(c.maxModuleBytes).toBe(512 * 1024);
    expect(c.maxStdinBytes).toBe(MiB);
    expect(() => loadConfig({ MAX_MEMORY_BYTES: '5GiB' })).toThrow(/MAX_MEMORY_BYTES must be a byte count between/);
    expect(() => loadConfig({ MAX_MODULE_BYTES: '12 parsecs' })).toThrow(/MAX_MODULE_BYTES/);
  });

  it('keeps defaults within their maxima', () => {
    expect(() => loadConfig({ DEFAULT_TIMEOUT_MS: '400000' })).toThrow(/DEFAULT_TIMEOUT_MS must be at most MAX_TIMEOUT_MS \(300000\)/);
    expect(() => loadConfig({ DEFAULT_FUEL: '100', MAX_FUEL: '10' })).toThrow(/DEFAULT_FUEL must be at most MAX_FUEL/);
    expect(() => loadConfig({ BACKOFF_INITIAL_MS: '5000', BACKOFF_MAX_MS: '1000' })).toThrow(/BACKOFF_INITIAL_MS must be at most BACKOFF_MAX_MS/);
  });

  it('parses fuel as bigint', () => {
    const c = loadConfig({ DEFAULT_FUEL: '1000000', MAX_FUEL: '10000000000000' });
    expect(c.limits.defaults.fuel).toBe(1_000_000n);
    expect(c.limits.max.fuel).toBe(10_000_000_000_000n);
  });

  it('reads S3 from a host or a URL and requires the keys', () => {
    expect(loadConfig({ S3_ENDPOINT: 'http://minio:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' }).s3).toEqual({
      endPoint: 'minio',
      port: 9000,
      useSSL: false,
      accessKey: 'a',
      secretKey: 'b',
      bucket: 'spindle',
      region: undefined,
    });
    expect(loadConfig({ S3_ENDPOINT: 's3.example.com', S3_USE_SSL: 'true', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b', S3_BUCKET: 'mine' }).s3).toMatchObject({
      endPoint: 's3.example.com',
      useSSL: true,
      bucket: 'mine',
    });
    expect(() => loadConfig({ S3_ENDPOINT: 'minio' })).toThrow(/S3_ACCESS_KEY must be set when S3_ENDPOINT is set/);
  });

  it('documents every option with a default and a description', () => {
    expect(CONFIG_OPTIONS.map((o) => o.name)).toEqual(OPTION_SPECS.map((o) => o.name));
    for (const o of CONFIG_OPTIONS) {
      expect(o.description.length, o.name).toBeGreaterThan(5);
      expect(o.default.length, o.name).toBeGreaterThan(0);
    }
    for (const name of ['PORT', 'HOST', 'DATA_DIR', 'DATABASE_URL', 'S3_ENDPOINT', 'REDIS_URL', 'WORKERS', 'ROLE', 'NODE_ID', 'MAX_BATCH', 'LEASE_MS', 'LOG_LEVEL']) {
      expect(CONFIG_OPTIONS.some((o) => o.name === name), name).toBe(true);
    }
  });

  it('ignores variables it does not know', () => {
    expect(() => loadConfig({ PATH: '/bin', SOMETHING: 'else' })).not.toThrow();
  });
});
