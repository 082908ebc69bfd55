/**
 * Configuration is resolved once: one zod parse of the environment into a frozen, fully defaulted
 * `Config`, passed down explicitly. Nothing else in Spindle reads `process.env`.
 */
import { z } from 'zod';
import type { Limits, QuotaValues, RetryPolicy } from '../domain/index.js';
import { LOG_LEVELS, OPTION_SPECS, ROLES, TRACES_SAMPLERS } from './options.js';

export { CONFIG_OPTIONS, OPTION_SPECS, QUOTA_OPTIONS, configTableMarkdown, optionRange, parseBytes } from './options.js';

export type Role = (typeof ROLES)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type TracesSampler = (typeof TRACES_SAMPLERS)[number];

/** OpenTelemetry traces (server/tracing.ts); `exporter` none = off, and nothing is traced. */
export interface TracesConfig {
  exporter: 'none' | 'otlp' | 'console';
  /** The OTLP/HTTP traces URL (exporter otlp). */
  url: string;
  headers: Record<string, string>;
  serviceName: string;
  sampler: TracesSampler;
  samplerRatio: number;
}

/** Where OTLP/HTTP traces go when no endpoint is set (the OpenTelemetry default). */
const OTLP_DEFAULT_ENDPOINT = 'http://localhost:4318';

export interface S3Config {
  endPoint: string;
  port: number | undefined;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string | undefined;
}

export interface RetentionConfig {
  succeeded: number | undefined;
  failed: number | undefined;
  cancelled: number | undefined;
  sweepIntervalMs: number;
  sweepBatch: number;
  blobGcGraceMs: number;
}

/** The resolved options: every default filled in, nested by concern, deeply frozen. */
export interface Config {
  port: number;
  /** Where /metrics is served alone; undefined = on `port`, behind the API's authentication. */
  metricsPort: number | undefined;
  host: string;
  dataDir: string;
  /** Unset → embedded PGlite in `dataDir`. */
  databaseUrl: string | undefined;
  /** Unset → local blobs in `dataDir`. */
  s3: S3Config | undefined;
  /** Unset → in-process pub/sub. */
  redisUrl: string | undefined;
  /** Prefix of the Redis channels (REDIS_PREFIX). */
  redisPrefix: string;
  workers: number;
  role: Role;
  nodeId: string;
  /** A task's limits when neither it nor its agent sets them, and the most it may ask for (fuel unset: up to FUEL_MAX). */
  limits: { defaults: Limits; max: Limits };
  /** A task's retry policy when it sets none (field by field), and the most it may ask for. */
  retryPolicy: { defaults: RetryPolicy; max: Omit<RetryPolicy, 'retryOn'> };
  maxModuleBytes: number;
  /** Builds from source: at once per node, the deadline of each, the source's total size (BUILD_CONCURRENCY, BUILD_TIMEOUT_MS, MAX_SOURCE_BYTES). */
  build: { concurrency: number; timeoutMs: number; maxSourceBytes: number };
  /** MAX_TABLE_ELEMENTS: most elements a module's tables may hold together, declared (registration) or grown (run time). */
  maxTableElements: number;
  maxStdinBytes: number;
  maxFilesBytes: number;
  maxRequestBytes: number;
  maxBatch: number;
  /** BULK_MAX: most tasks a bulk action with a filter takes on per call. */
  bulkMax: number;
  /** COUNT_EXACT_MAX: counts are exact up to it, an estimate past it. */
  countExactMax: number;
  /** Off only on a loopback HOST (checked at load). */
  auth: { enabled: boolean; adminKey: string | undefined; reason: string };
  graphql: { introspection: boolean; maxDepth: number; maxCost: number; maxSubscriptionsPerConnection: number; wsInitTimeoutMs: number };
  /** Per-tenant quotas: the server defaults (a tenant may override each; see src/services/quota.service.ts). runningTasks 0 = no cap. */
  quotas: QuotaValues;
  /** statement_timeout of API statements on PostgreSQL (0 = none). */
  apiStatementTimeoutMs: number;
  leaseMs: number;
  shutdownGraceMs: number;
  /** Server-wide retention per finished status in ms (undefined = keep forever), the sweeper's pace and the blob grace. */
  retention: RetentionConfig;
  logLevel: LogLevel;
  traces: TracesConfig;
}

/** Raised for a bad environment; the message names every offending variable and what is allowed. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const envSchema = z.object(Object.fromEntries(OPTION_SPECS.map((o) => [o.name, o.schema.optional()])));

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env): Config {
  // Unset and empty variables take their raw default, which goes through the same schema.
  const raw = Object.fromEntries(
    OPTION_SPECS.map((o) => {
      const value = env[o.name];
      return [o.name, value === undefined || value.trim() === '' ? o.rawDefault?.() : value];
    }),
  );
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = [...new Set(parsed.error.issues.map((i) => String(i.path[0])))].map((name) => {
      const spec = OPTION_SPECS.find((o) => o.name === name)!;
      return `${name} must be ${spec.allowed} (got ${spec.secret ? 'a value that is not shown' : JSON.stringify(env[name])})`;
    });
    throw new ConfigError(problems);
  }
  // The schema maps each name to its parsed type; the casts below restate them.
  const v = parsed.data as Record<string, any>;
  const config: Config = {
    port: v.PORT,
    metricsPort: v.METRICS_PORT,
    host: v.HOST,
    dataDir: v.DATA_DIR,
    databaseUrl: v.DATABASE_URL,
    s3: v.S3_ENDPOINT ? s3Config(v) : undefined,
    redisUrl: v.REDIS_URL,
    redisPrefix: v.REDIS_PREFIX,
    workers: v.WORKERS,
    role: v.ROLE,
    nodeId: v.NODE_ID,
    limits: {
      defaults: {
        timeoutMs: v.DEFAULT_TIMEOUT_MS,
        memoryBytes: v.DEFAULT_MEMORY_BYTES,
        maxOutputBytes: v.DEFAULT_MAX_OUTPUT_BYTES,
        ...(v.DEFAULT_FUEL !== undefined ? { fuel: v.DEFAULT_FUEL as bigint } : {}),
      },
      max: {
        timeoutMs: v.MAX_TIMEOUT_MS,
        memoryBytes: v.MAX_MEMORY_BYTES,
        maxOutputBytes: v.MAX_OUTPUT_BYTES,
        ...(v.MAX_FUEL !== undefined ? { fuel: v.MAX_FUEL as bigint } : {}),
      },
    },
    retryPolicy: {
      defaults: {
        maxAttempts: v.DEFAULT_MAX_ATTEMPTS,
        initialBackoffMs: v.BACKOFF_INITIAL_MS,
        maxBackoffMs: v.BACKOFF_MAX_MS,
        retryOn: v.DEFAULT_RETRY_ON,
      },
      max: { maxAttempts: v.MAX_ATTEMPTS_LIMIT, initialBackoffMs: v.BACKOFF_MAX_MS_LIMIT, maxBackoffMs: v.BACKOFF_MAX_MS_LIMIT },
    },
    maxModuleBytes: v.MAX_MODULE_BYTES,
    build: { concurrency: v.BUILD_CONCURRENCY, timeoutMs: v.BUILD_TIMEOUT_MS, maxSourceBytes: v.MAX_SOURCE_BYTES },
    maxTableElements: v.MAX_TABLE_ELEMENTS,
    maxStdinBytes: v.MAX_STDIN_BYTES,
    maxFilesBytes: v.MAX_FILES_BYTES,
    maxRequestBytes: v.MAX_REQUEST_BYTES,
    maxBatch: v.MAX_BATCH,
    bulkMax: v.BULK_MAX,
    countExactMax: v.COUNT_EXACT_MAX,
    auth: resolveAuth(v.HOST, v.AUTH, v.SPINDLE_ADMIN_KEY),
    graphql: {
      introspection: v.INTROSPECTION,
      maxDepth: v.MAX_QUERY_DEPTH,
      maxCost: v.MAX_QUERY_COST,
      maxSubscriptionsPerConnection: v.MAX_SUBSCRIPTIONS_PER_CONNECTION,
      wsInitTimeoutMs: v.WS_INIT_TIMEOUT_MS,
    },
    quotas: {
      queuedTasks: v.QUOTA_QUEUED_TASKS,
      activeTasks: v.QUOTA_ACTIVE_TASKS,
      runningTasks: v.QUOTA_RUNNING_TASKS,
      storedBytes: v.QUOTA_STORED_BYTES,
      submitRate: v.QUOTA_SUBMIT_RATE,
      submitBurst: v.QUOTA_SUBMIT_BURST,
      taskBytes: v.QUOTA_TASK_BYTES,
    },
    apiStatementTimeoutMs: v.API_STATEMENT_TIMEOUT_MS,
    leaseMs: v.LEASE_MS,
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
    retention: {
      succeeded: v.RETAIN_SUCCEEDED,
      failed: v.RETAIN_FAILED,
      cancelled: v.RETAIN_CANCELLED,
      sweepIntervalMs: v.SWEEP_INTERVAL,
      sweepBatch: v.SWEEP_BATCH,
      blobGcGraceMs: v.BLOB_GC_GRACE,
    },
    logLevel: v.LOG_LEVEL,
    traces: tracesConfig(v),
  };
  checkConsistency(config, env);
  return deepFreeze(config);
}

/** True for 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

/**
 * AUTH defaults to off on a loopback HOST (a developer's machine) and on everywhere else; off on
 * a reachable interface would hand every caller the admin role, so it stops start-up.
 */
function resolveAuth(host: string, auth: 'on' | 'off' | undefined, adminKey: string | undefined): Config['auth'] {
  const loopback = isLoopback(host);
  if (auth === 'off' && !loopback) {
    throw new ConfigError([`AUTH=off is only allowed when HOST is a loopback address (HOST is ${JSON.stringify(host)}): set AUTH=on, or HOST=127.0.0.1`]);
  }
  const enabled = auth ? auth === 'on' : !loopback;
  const reason = auth ? `AUTH=${auth}` : `AUTH unset and HOST ${host} is ${loopback ? 'a loopback address' : 'not a loopback address'}`;
  return { enabled, adminKey, reason };
}

/** Off unless asked for: an exporter named, or an OTLP endpoint set (the spec's default exporter is otlp). */
function tracesConfig(v: Record<string, any>): TracesConfig {
  const traceUrl: string | undefined = v.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base: string | undefined = v.OTEL_EXPORTER_OTLP_ENDPOINT;
  const exporter: TracesConfig['exporter'] = v.OTEL_SDK_DISABLED ? 'none' : (v.OTEL_TRACES_EXPORTER ?? (traceUrl || base ? 'otlp' : 'none'));
  return {
    exporter,
    url: traceUrl ?? `${(base ?? OTLP_DEFAULT_ENDPOINT).replace(/\/+$/, '')}/v1/traces`,
    headers: v.OTEL_EXPORTER_OTLP_HEADERS ?? {},
    serviceName: v.OTEL_SERVICE_NAME,
    sampler: v.OTEL_TRACES_SAMPLER,
    samplerRatio: v.OTEL_TRACES_SAMPLER_ARG,
  };
}

function s3Config(v: Record<string, any>): S3Config {
  const raw = String(v.S3_ENDPOINT);
  let endPoint = raw;
  let port: number | undefined = v.S3_PORT;
  let useSSL: boolean = v.S3_USE_SSL;
  if (/^https?:\/\//i.test(raw)) {
    const u = new URL(raw);
    endPoint = u.hostname;
    port ??= u.port ? Number(u.port) : undefined;
    useSSL = u.protocol === 'https:';
  }
  const missing = ['S3_ACCESS_KEY', 'S3_SECRET_KEY'].filter((n) => !v[n]);
  if (missing.length) throw new ConfigError(missing.map((n) => `${n} must be set when S3_ENDPOINT is set`));
  return { endPoint, port, useSSL, accessKey: v.S3_ACCESS_KEY, secretKey: v.S3_SECRET_KEY, bucket: v.S3_BUCKET, region: v.S3_REGION };
}

/** Defaults may not exceed their maxima; /metrics needs a port of its own when it has one. */
function checkConsistency(c: Config, env: Env): void {
  const pairs: [string, number | bigint | undefined, string, number | bigint | undefined][] = [
    ['DEFAULT_TIMEOUT_MS', c.limits.defaults.timeoutMs, 'MAX_TIMEOUT_MS', c.limits.max.timeoutMs],
    ['DEFAULT_MEMORY_BYTES', c.limits.defaults.memoryBytes, 'MAX_MEMORY_BYTES', c.limits.max.memoryBytes],
    ['DEFAULT_MAX_OUTPUT_BYTES', c.limits.defaults.maxOutputBytes, 'MAX_OUTPUT_BYTES', c.limits.max.maxOutputBytes],
    ['DEFAULT_FUEL', c.limits.defaults.fuel, 'MAX_FUEL', c.limits.max.fuel],
    ['DEFAULT_MAX_ATTEMPTS', c.retryPolicy.defaults.maxAttempts, 'MAX_ATTEMPTS_LIMIT', c.retryPolicy.max.maxAttempts],
    ['BACKOFF_INITIAL_MS', c.retryPolicy.defaults.initialBackoffMs, 'BACKOFF_MAX_MS', c.retryPolicy.defaults.maxBackoffMs],
    ['BACKOFF_MAX_MS', c.retryPolicy.defaults.maxBackoffMs, 'BACKOFF_MAX_MS_LIMIT', c.retryPolicy.max.maxBackoffMs],
  ];
  const problems = pairs
    .filter(([, value, , max]) => value !== undefined && max !== undefined && value > max)
    .map(([name, value, maxName, max]) => `${name} must be at most ${maxName} (${max}) (got ${JSON.stringify(env[name] ?? String(value))})`);
  // 0 is "any free port" for both: two different ones.
  if (c.metricsPort && c.metricsPort === c.port) {
    problems.push(`METRICS_PORT must differ from PORT (both ${c.port}): give /metrics a port of its own, or unset METRICS_PORT to serve it on PORT`);
  }
  if (problems.length) throw new ConfigError(problems);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const value of Object.values(o)) deepFreeze(value);
  }
  return o;
}
