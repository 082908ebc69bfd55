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
        max: { timeoutMs: 300_000, memoryBytes: 1024 * MiB, maxOutputBytes: 16 * MiB },
      },
      retryPolicy: {
        defaults: { maxAttempts: 3, initialBackoffMs: 1000, maxBackoffMs: 60_000, retryOn: ['timeout', 'host_error'] },
        max: { maxAttempts: 10, initialBackoffMs: 3_600_000, maxBackoffMs: 3_600_000 },
      },
      maxModuleBytes: 32 * MiB,
      maxBatch: 1000,
      leaseMs: 30_000,
      logLevel: 'info',
    });
    expect(c.nodeId).toMatch(new RegExp(`^${os.hostname()}-${process.pid}-[0-9a-f]{4}$`));
    expect(c.limits.defaults.fuel).toBeUndefined();
    expect(c.limits.max.fuel).toBeUndefined();
  });

  it('is deeply frozen', () => {
    const c = loadConfig({});
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.limits.defaults)).toBe(true);
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow();
  });

  it('serves /metrics on PORT unless METRICS_PORT is set (0 to 65535)', () => {
    expect(loadConfig({}).metricsPort).toBeUndefined();
    expect(loadConfig({ METRICS_PORT: '0' }).metricsPort).toBe(0);
    expect(loadConfig({ METRICS_PORT: '65535' }).metricsPort).toBe(65535);
    expect(() => loadConfig({ METRICS_PORT: '65536' })).toThrow(/METRICS_PORT must be an integer between 0 and 65535 \(got "65536"\)/);
    expect(() => loadConfig({ METRICS_PORT: '-1' })).toThrow(/METRICS_PORT must be an integer between 0 and 65535/);
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

  it('takes API_STATEMENT_TIMEOUT_MS from 0 (no limit) to an hour, 5 s by default', () => {
    expect(loadConfig({}).apiStatementTimeoutMs).toBe(5000);
    expect(loadConfig({ API_STATEMENT_TIMEOUT_MS: '0' }).apiStatementTimeoutMs).toBe(0);
    expect(loadConfig({ API_STATEMENT_TIMEOUT_MS: '3600000' }).apiStatementTimeoutMs).toBe(3_600_000);
    expect(() => loadConfig({ API_STATEMENT_TIMEOUT_MS: '3600001' })).toThrow(/API_STATEMENT_TIMEOUT_MS must be an integer between 0 and 3600000 \(got "3600001"\)/);
    expect(() => loadConfig({ API_STATEMENT_TIMEOUT_MS: '-1' })).toThrow(/API_STATEMENT_TIMEOUT_MS must be an integer between 0 and 3600000/);
  });

  it('keeps finished tasks forever unless RETAIN_* is set, as a duration from 1 s to 3650 days', () => {
    expect(loadConfig({}).retention).toEqual({ succeeded: undefined, failed: undefined, cancelled: undefined, sweepIntervalMs: 60_000, sweepBatch: 500, blobGcGraceMs: 86_400_000 });
    const c = loadConfig({ RETAIN_SUCCEEDED: '30s', RETAIN_FAILED: '7d', RETAIN_CANCELLED: '1500' });
    expect(c.retention).toMatchObject({ succeeded: 30_000, failed: 7 * 86_400_000, cancelled: 1500 });
    expect(loadConfig({ RETAIN_SUCCEEDED: '15m', RETAIN_FAILED: '12H', RETAIN_CANCELLED: '2500 ms' }).retention).toMatchObject({ succeeded: 900_000, failed: 43_200_000, cancelled: 2500 });
    // At the limits.
    expect(loadConfig({ RETAIN_SUCCEEDED: '1000' }).retention.succeeded).toBe(1000);
    expect(loadConfig({ RETAIN_SUCCEEDED: '1s' }).retention.succeeded).toBe(1000);
    expect(loadConfig({ RETAIN_FAILED: '3650d' }).retention.failed).toBe(3650 * 86_400_000);
    // Beyond them, or not a duration.
    expect(() => loadConfig({ RETAIN_SUCCEEDED: '999' })).toThrow(/RETAIN_SUCCEEDED must be a duration from 1s to 3650d: milliseconds, or a number with s, m, h or d \(e\.g\. 30s, 15m, 12h, 7d\) \(got "999"\)/);
    expect(() => loadConfig({ RETAIN_FAILED: '3651d' })).toThrow(/RETAIN_FAILED must be a duration from 1s to 3650d/);
    expect(() => loadConfig({ RETAIN_CANCELLED: '-5s' })).toThrow(/RETAIN_CANCELLED must be a duration/);
    expect(() => loadConfig({ RETAIN_CANCELLED: '2w' })).toThrow(/RETAIN_CANCELLED must be a duration/);
    expect(() => loadConfig({ RETAIN_CANCELLED: '1.5h' })).toThrow(/RETAIN_CANCELLED must be a duration/);
  });

  it('bounds the sweeper: SWEEP_INTERVAL 1s to 1d, SWEEP_BATCH 1 to 5000, BLOB_GC_GRACE 1m to 3650d (24h by default)', () => {
    expect(loadConfig({ SWEEP_INTERVAL: '1s', SWEEP_BATCH: '1', BLOB_GC_GRACE: '1m' }).retention).toMatchObject({ sweepIntervalMs: 1000, sweepBatch: 1, blobGcGraceMs: 60_000 });
    expect(loadConfig({ SWEEP_INTERVAL: '1d', SWEEP_BATCH: '5000', BLOB_GC_GRACE: '3650d' }).retention).toMatchObject({ sweepIntervalMs: 86_400_000, sweepBatch: 5000, blobGcGraceMs: 3650 * 86_400_000 });
    expect(() => loadConfig({ SWEEP_INTERVAL: '999ms' })).toThrow(/SWEEP_INTERVAL must be a duration from 1s to 1d/);
    expect(() => loadConfig({ SWEEP_INTERVAL: '25h' })).toThrow(/SWEEP_INTERVAL must be a duration from 1s to 1d/);
    expect(() => loadConfig({ SWEEP_BATCH: '0' })).toThrow(/SWEEP_BATCH must be an integer between 1 and 5000/);
    expect(() => loadConfig({ SWEEP_BATCH: '5001' })).toThrow(/SWEEP_BATCH must be an integer between 1 and 5000/);
    expect(() => loadConfig({ BLOB_GC_GRACE: '59s' })).toThrow(/BLOB_GC_GRACE must be a duration from 1m to 3650d/);
    expect(() => loadConfig({ BLOB_GC_GRACE: '3651d' })).toThrow(/BLOB_GC_GRACE must be a duration from 1m to 3650d/);
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

  it('keeps traces off unless OTEL_TRACES_EXPORTER or an OTLP endpoint asks for them, and OTEL_SDK_DISABLED wins', () => {
    expect(loadConfig({}).traces).toEqual({
      exporter: 'none',
      url: 'http://localhost:4318/v1/traces',
      headers: {},
      serviceName: 'spindle',
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).traces).toMatchObject({ exporter: 'otlp', url: 'http://collector:4318/v1/traces' });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/in' }).traces).toMatchObject({ exporter: 'otlp', url: 'https://traces.example/in' });
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' }).traces).toMatchObject({ exporter: 'otlp', url: 'http://localhost:4318/v1/traces' });
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'Console' }).traces.exporter).toBe('console');
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).traces.exporter).toBe('none');
    expect(loadConfig({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }).traces.exporter).toBe('none');
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(/OTEL_TRACES_EXPORTER must be one of none, otlp, console \(got "jaeger"\)/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT must be an http:\/\/ or https:\/\/ URL/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://collector' })).toThrow(/OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http/);
    expect(() => loadConfig({ OTEL_SDK_DISABLED: 'maybe' })).toThrow(/OTEL_SDK_DISABLED must be true or false/);
  });

  it('reads OTEL_EXPORTER_OTLP_HEADERS as percent-encoded key=value pairs, never showing a bad value', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20abc, x-team = ops,' }).traces.headers).toEqual({ authorization: 'Bearer abc', 'x-team': 'ops' });
    for (const bad of ['token', '=v', 'a b=c', 'k=%zz']) {
      expect(() => loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: bad })).toThrow(/OTEL_EXPORTER_OTLP_HEADERS must be key=value pairs separated by commas, values percent-encoded \(got a value that is not shown\)/);
    }
  });

  it('takes OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER and a ratio from 0 to 1 in OTEL_TRACES_SAMPLER_ARG', () => {
    expect(loadConfig({ OTEL_SERVICE_NAME: 'spindle-eu', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).traces).toMatchObject({
      serviceName: 'spindle-eu',
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
    });
    expect(loadConfig({ OTEL_TRACES_SAMPLER_ARG: '0' }).traces.samplerRatio).toBe(0);
    expect(loadConfig({ OTEL_TRACES_SAMPLER_ARG: '1' }).traces.samplerRatio).toBe(1);
    for (const bad of ['1.5', '-0.1', 'half']) expect(() => loadConfig({ OTEL_TRACES_SAMPLER_ARG: bad })).toThrow(/OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1/);
    expect(() => loadConfig({ OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER must be one of always_on, always_off, traceidratio/);
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

  it('refuses METRICS_PORT equal to PORT, but not both 0 (any free port)', () => {
    expect(() => loadConfig({ PORT: '4000', METRICS_PORT: '4000' })).toThrow(/METRICS_PORT must differ from PORT \(both 4000\)/);
    expect(() => loadConfig({ METRICS_PORT: '4000' })).toThrow(/METRICS_PORT must differ from PORT/); // PORT's default
    expect(loadConfig({ PORT: '4000', METRICS_PORT: '4001' }).metricsPort).toBe(4001);
    expect(loadConfig({ PORT: '0', METRICS_PORT: '0' }).metricsPort).toBe(0);
  });

  it('keeps defaults within their maxima', () => {
    expect(() => loadConfig({ DEFAULT_TIMEOUT_MS: '400000' })).toThrow(/DEFAULT_TIMEOUT_MS must be at most MAX_TIMEOUT_MS \(300000\)/);
    expect(() => loadConfig({ DEFAULT_FUEL: '100', MAX_FUEL: '10' })).toThrow(/DEFAULT_FUEL must be at most MAX_FUEL/);
    expect(() => loadConfig({ BACKOFF_INITIAL_MS: '5000', BACKOFF_MAX_MS: '1000' })).toThrow(/BACKOFF_INITIAL_MS must be at most BACKOFF_MAX_MS/);
  });

  it('takes the task backoff ceiling from BACKOFF_MAX_MS_LIMIT (1 hour by default), at least BACKOFF_MAX_MS', () => {
    expect(loadConfig({ BACKOFF_MAX_MS_LIMIT: '120000' }).retryPolicy.max).toEqual({ maxAttempts: 10, initialBackoffMs: 120_000, maxBackoffMs: 120_000 });
    expect(loadConfig({ BACKOFF_MAX_MS: '120000', BACKOFF_MAX_MS_LIMIT: '120000' }).retryPolicy.defaults.maxBackoffMs).toBe(120_000);
    expect(() => loadConfig({ BACKOFF_MAX_MS: '120001', BACKOFF_MAX_MS_LIMIT: '120000' })).toThrow(/BACKOFF_MAX_MS must be at most BACKOFF_MAX_MS_LIMIT \(120000\) \(got "120001"\)/);
    expect(() => loadConfig({ BACKOFF_MAX_MS_LIMIT: '-1' })).toThrow(/BACKOFF_MAX_MS_LIMIT must be an integer between 0 and/);
  });

  it('reads DEFAULT_RETRY_ON as a comma-separated list of retryable outcome kinds', () => {
    expect(loadConfig({ DEFAULT_RETRY_ON: ' Trap , nonzero_exit,trap ' }).retryPolicy.defaults.retryOn).toEqual(['trap', 'nonzero_exit']);
    expect(Object.isFrozen(loadConfig({}).retryPolicy.defaults.retryOn)).toBe(true);
    expect(() => loadConfig({ DEFAULT_RETRY_ON: 'timeout,cancelled' })).toThrow(/DEFAULT_RETRY_ON must be a comma-separated list of timeout, host_error, trap, nonzero_exit/);
    expect(() => loadConfig({ DEFAULT_RETRY_ON: 'timeout,' })).toThrow(/DEFAULT_RETRY_ON must be/);
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

  it('takes a Redis channel prefix of up to 64 safe characters', () => {
    expect(loadConfig({}).redisPrefix).toBe('spindle:');
    expect(loadConfig({ REDIS_PREFIX: 'blue.cluster-1:' }).redisPrefix).toBe('blue.cluster-1:');
    expect(loadConfig({ REDIS_PREFIX: 'p'.repeat(64) }).redisPrefix).toBe('p'.repeat(64));
    expect(() => loadConfig({ REDIS_PREFIX: 'p'.repeat(65) })).toThrow(/REDIS_PREFIX must be 1-64 of a-z/);
    expect(() => loadConfig({ REDIS_PREFIX: 'a b' })).toThrow(/REDIS_PREFIX must be 1-64 of a-z/);
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
