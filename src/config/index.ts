/**
 * Configuration is resolved once: one zod parse of the environment into a frozen, fully defaulted
 * `Config`, passed down explicitly. Nothing else in Spindle reads `process.env`.
 */
import { z } from 'zod';
import type { Limits, QuotaValues } from '../domain/index.js';
import { LOG_LEVELS, OPTION_SPECS, ROLES } from './options.js';

export { CONFIG_OPTIONS, OPTION_SPECS, QUOTA_OPTIONS, configTableMarkdown, optionRange } from './options.js';

export type Role = (typeof ROLES)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface S3Config {
  endPoint: string;
  port: number | undefined;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string | undefined;
}

/** The resolved options: every default filled in, nested by concern, deeply frozen. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** Unset → embedded PGlite in `dataDir`. */
  databaseUrl: string | undefined;
  /** Unset → local blobs in `dataDir`. */
  s3: S3Config | undefined;
  /** Unset → in-process pub/sub. */
  redisUrl: string | undefined;
  workers: number;
  role: Role;
  nodeId: string;
  limits: {
    defaults: Limits;
    max: { timeoutMs: number; memoryBytes: number; maxOutputBytes: number; fuel: bigint | undefined };
  };
  retry: { defaultMaxAttempts: number; maxAttemptsLimit: number; backoffInitialMs: number; backoffMaxMs: number };
  maxModuleBytes: number;
  maxStdinBytes: number;
  maxFilesBytes: number;
  maxRequestBytes: number;
  maxBatch: number;
  /** Off only on a loopback HOST (checked at load). */
  auth: { enabled: boolean; adminKey: string | undefined; reason: string };
  graphql: { introspection: boolean; maxDepth: number; maxCost: number; maxSubscriptionsPerConnection: number; wsInitTimeoutMs: number };
  /** Per-tenant quotas: the server defaults (a tenant may override each; see src/graphql/quota.ts). runningTasks 0 = no cap. */
  quotas: QuotaValues;
  leaseMs: number;
  shutdownGraceMs: number;
  logLevel: LogLevel;
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
    host: v.HOST,
    dataDir: v.DATA_DIR,
    databaseUrl: v.DATABASE_URL,
    s3: v.S3_ENDPOINT ? s3Config(v) : undefined,
    redisUrl: v.REDIS_URL,
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
      max: { timeoutMs: v.MAX_TIMEOUT_MS, memoryBytes: v.MAX_MEMORY_BYTES, maxOutputBytes: v.MAX_OUTPUT_BYTES, fuel: v.MAX_FUEL },
    },
    retry: {
      defaultMaxAttempts: v.DEFAULT_MAX_ATTEMPTS,
      maxAttemptsLimit: v.MAX_ATTEMPTS_LIMIT,
      backoffInitialMs: v.BACKOFF_INITIAL_MS,
      backoffMaxMs: v.BACKOFF_MAX_MS,
    },
    maxModuleBytes: v.MAX_MODULE_BYTES,
    maxStdinBytes: v.MAX_STDIN_BYTES,
    maxFilesBytes: v.MAX_FILES_BYTES,
    maxRequestBytes: v.MAX_REQUEST_BYTES,
    maxBatch: v.MAX_BATCH,
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
    },
    leaseMs: v.LEASE_MS,
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
    logLevel: v.LOG_LEVEL,
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

/** Defaults may not exceed their maxima. */
function checkConsistency(c: Config, env: Env): void {
  const pairs: [string, number | bigint | undefined, string, number | bigint | undefined][] = [
    ['DEFAULT_TIMEOUT_MS', c.limits.defaults.timeoutMs, 'MAX_TIMEOUT_MS', c.limits.max.timeoutMs],
    ['DEFAULT_MEMORY_BYTES', c.limits.defaults.memoryBytes, 'MAX_MEMORY_BYTES', c.limits.max.memoryBytes],
    ['DEFAULT_MAX_OUTPUT_BYTES', c.limits.defaults.maxOutputBytes, 'MAX_OUTPUT_BYTES', c.limits.max.maxOutputBytes],
    ['DEFAULT_FUEL', c.limits.defaults.fuel, 'MAX_FUEL', c.limits.max.fuel],
    ['DEFAULT_MAX_ATTEMPTS', c.retry.defaultMaxAttempts, 'MAX_ATTEMPTS_LIMIT', c.retry.maxAttemptsLimit],
    ['BACKOFF_INITIAL_MS', c.retry.backoffInitialMs, 'BACKOFF_MAX_MS', c.retry.backoffMaxMs],
  ];
  const problems = pairs
    .filter(([, value, , max]) => value !== undefined && max !== undefined && value > max)
    .map(([name, value, maxName, max]) => `${name} must be at most ${maxName} (${max}) (got ${JSON.stringify(env[name] ?? String(value))})`);
  if (problems.length) throw new ConfigError(problems);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const value of Object.values(o)) deepFreeze(value);
  }
  return o;
}
