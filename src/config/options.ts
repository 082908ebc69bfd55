/**
 * Every environment variable Spindle reads, with its default and meaning. This table is the single
 * source: `loadConfig` parses with it, the README documents from it (`CONFIG_OPTIONS`).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { z } from 'zod';
import { FUEL_MAX, RETRYABLE_KINDS, TABLE_ELEMENTS_DEFAULT, type TenantQuota } from '../domain/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface OptionSpec {
  name: string;
  /** The default as a user reads it (documentation), or undefined when unset means "off". */
  default: string | undefined;
  description: string;
  /** What is allowed, phrased to follow "must be". */
  allowed: string;
  /** Raw default fed through the schema when the variable is unset or empty. */
  rawDefault?: () => string | undefined;
  /** A secret: its value never appears in error messages. */
  secret?: boolean;
  /** Integer and byte options: the inclusive range the schema allows (for checks elsewhere, e.g. quota overrides). */
  range?: { min: number; max: number };
  schema: z.ZodType;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: KiB, kib: KiB, kb: KiB, m: MiB, mib: MiB, mb: MiB, g: GiB, gib: GiB, gb: GiB };

const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** Bytes as an integer, or with a binary unit: `65536`, `64KiB`, `64MiB`, `1GiB` (k/m/g are binary too); undefined for anything else. */
export function parseBytes(text: string): number | undefined {
  const m = /^(\d+)\s*([kmg](?:i?b)?|b)?$/i.exec(text.trim());
  return m ? Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]! : undefined;
}

const bytes = (min: number, max: number) =>
  z
    .string()
    .refine((s) => parseBytes(s) !== undefined)
    .transform((s) => parseBytes(s)!)
    .pipe(z.number().int().min(min).max(max));

const bigint = (min: bigint, max: bigint) =>
  z
    .string()
    .trim()
    .regex(/^\d{1,20}$/)
    .transform((s) => BigInt(s))
    .refine((n) => n >= min && n <= max);

const DURATION_UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration in milliseconds, plain or with a unit: `1500`, `30s`, `15m`, `12h`, `7d`. */
const duration = (min: number, max: number) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^\d+\s*(ms|s|m|h|d)?$/)
    .transform((s) => {
      const m = /^(\d+)\s*([a-z]*)$/.exec(s)!;
      return Number(m[1]) * DURATION_UNITS[m[2]!]!;
    })
    .pipe(z.number().int().min(min).max(max));

const oneOf = <T extends string>(values: readonly [T, ...T[]]) => z.string().trim().toLowerCase().pipe(z.enum(values));

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
  .transform((s) => s === 'true' || s === '1' || s === 'yes');

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((s) => {
      try {
        return protocols.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    });

const text = z.string().trim().min(1);

/** A comma-separated list of distinct values from `values`, at least one: `timeout,host_error`. */
const listOf = <T extends string>(values: readonly [T, ...T[]]) =>
  z
    .string()
    .transform((s) => s.split(',').map((v) => v.trim().toLowerCase()))
    .pipe(z.array(z.enum(values)).min(1))
    .transform((list) => [...new Set(list)]);

const fmtBytes = (n: number) =>
  n % GiB === 0 ? `${n / GiB} GiB` : n % MiB === 0 ? `${n / MiB} MiB` : n % KiB === 0 ? `${n / KiB} KiB` : `${n} bytes`;

const intOpt = (name: string, def: number, min: number, max: number, description: string): OptionSpec => ({
  name,
  default: String(def),
  description,
  allowed: `an integer between ${min} and ${max}`,
  rawDefault: () => String(def),
  range: { min, max },
  schema: integer(min, max),
});

const bytesOpt = (name: string, def: number, min: number, max: number, description: string): OptionSpec => ({
  name,
  default: `${def} (${fmtBytes(def)})`,
  description,
  allowed: `a byte count between ${min} and ${max} (units KiB, MiB, GiB allowed)`,
  rawDefault: () => String(def),
  range: { min, max },
  schema: bytes(min, max),
});

const fmtDuration = (ms: number) =>
  ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;

const durationAllowed = (min: number, max: number) =>
  `a duration from ${fmtDuration(min)} to ${fmtDuration(max)}: milliseconds, or a number with s, m, h or d (e.g. 30s, 15m, 12h, 7d)`;

/** A duration option; `def` undefined = unset means "off" (e.g. keep forever). */
const durationOpt = (name: string, def: number | undefined, min: number, max: number, description: string): OptionSpec => ({
  name,
  default: def === undefined ? undefined : fmtDuration(def),
  description,
  allowed: durationAllowed(min, max),
  ...(def === undefined ? {} : { rawDefault: () => String(def) }),
  range: { min, max },
  schema: duration(min, max),
});

const optional = (name: string, description: string, allowed: string, schema: z.ZodType): OptionSpec => ({
  name,
  default: undefined,
  description,
  allowed,
  schema,
});

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const ROLES = ['all', 'api', 'worker'] as const;
export const TRACES_EXPORTERS = ['none', 'otlp', 'console'] as const;
export const TRACES_SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

/**
 * OTEL_EXPORTER_OTLP_HEADERS: `key=value` pairs separated by commas, values percent-encoded (the
 * OpenTelemetry spec's format), e.g. `authorization=Bearer%20abc,x-team=ops`.
 */
const otlpHeaders = z
  .string()
  .transform((s) => s.split(',').map((pair) => pair.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*=.*$/)))
  .transform((pairs, ctx) => {
    const headers: Record<string, string> = {};
    for (const pair of pairs) {
      const at = pair.indexOf('=');
      try {
        headers[pair.slice(0, at).trim().toLowerCase()] = decodeURIComponent(pair.slice(at + 1).trim());
      } catch {
        ctx.addIssue({ code: 'custom', message: 'bad percent-encoding' });
        return z.NEVER;
      }
    }
    return headers;
  });

/** A ratio from 0 to 1 (OTEL_TRACES_SAMPLER_ARG). */
const ratio = z.string().trim().regex(/^(0|1|0?\.\d+|1\.0*)$/).transform(Number);

const MAX_TIMEOUT_CEILING = 24 * 3600 * 1000;
const MEMORY_CEILING = 4 * GiB; // wasm32 address space
const SECOND = 1000;
const DAY = 86_400_000;
/** Retention from one second (tests, soaks) to ten years. */
const RETAIN_MIN = SECOND;
const RETAIN_MAX = 3650 * DAY;

export const OPTION_SPECS: readonly OptionSpec[] = [
  intOpt('PORT', 4000, 0, 65535, 'HTTP port for the API, WebSocket subscriptions, dashboard, /healthz and (without METRICS_PORT) /metrics (0 = any free port).'),
  optional(
    'METRICS_PORT',
    'A separate HTTP port for /metrics alone (0 = any free port; else not PORT), for a scraper behind a firewall; unset = /metrics on PORT, where with AUTH on it needs a system admin key.',
    'an integer between 0 and 65535',
    integer(0, 65535),
  ),
  { name: 'HOST', default: '127.0.0.1', description: 'Interface to listen on (0.0.0.0 for all).', allowed: 'a host name or address', rawDefault: () => '127.0.0.1', schema: text },
  { name: 'DATA_DIR', default: './data', description: 'Directory for the embedded database (PGlite) and local blobs.', allowed: 'a directory path', rawDefault: () => './data', schema: text },
  optional('DATABASE_URL', 'PostgreSQL connection string; unset = embedded PGlite in DATA_DIR/pglite.', 'a postgres:// or postgresql:// URL', url(['postgres:', 'postgresql:'])),
  optional('S3_ENDPOINT', 'S3/MinIO host (or URL) for module and file blobs; unset = DATA_DIR/blobs.', 'a host name or an http(s) URL', text),
  optional('S3_PORT', 'S3 port (default: from the URL, else 443 with SSL / 80 without).', 'an integer between 1 and 65535', integer(1, 65535)),
  optional('S3_ACCESS_KEY', 'S3 access key.', 'a non-empty string', text),
  optional('S3_SECRET_KEY', 'S3 secret key.', 'a non-empty string', text),
  { name: 'S3_BUCKET', default: 'spindle', description: 'S3 bucket (created when missing).', allowed: 'a bucket name (3-63 of a-z, 0-9, ".", "-")', rawDefault: () => 'spindle', schema: z.string().trim().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/) },
  { name: 'S3_USE_SSL', default: 'false', description: 'Use HTTPS for S3.', allowed: 'true or false', rawDefault: () => 'false', schema: bool },
  optional('S3_REGION', 'S3 region.', 'a non-empty string', text),
  optional('REDIS_URL', 'Redis for cross-node pub/sub (events, output, cancel); unset = in-process.', 'a redis:// or rediss:// URL', url(['redis:', 'rediss:'])),
  {
    name: 'REDIS_PREFIX',
    default: 'spindle:',
    description: 'Prefix of every Redis channel, so that clusters sharing one Redis (or one database number) do not hear each other; nodes of one cluster must use the same.',
    allowed: '1-64 of a-z, A-Z, 0-9, ".", "_", ":", "-"',
    rawDefault: () => 'spindle:',
    schema: z.string().trim().regex(/^[\w.:-]{1,64}$/),
  },
  { name: 'WORKERS', default: 'number of CPU cores', description: 'Task worker threads on this node.', allowed: 'an integer between 1 and 1024', rawDefault: () => String(os.availableParallelism()), schema: integer(1, 1024) },
  { name: 'ROLE', default: 'all', description: 'all: serve and execute; api: serve the API but execute nothing; worker: execute, serving only /healthz and /metrics.', allowed: `one of ${ROLES.join(', ')}`, rawDefault: () => 'all', schema: oneOf(ROLES) },
  {
    name: 'NODE_ID',
    default: 'hostname-pid-random',
    // The random part keeps a restarted container (same hostname, pid 1 again) from reusing the dead node's id.
    description: 'Name of this node in leases, attempts and stats; must be unique per running process.',
    allowed: '1-100 characters',
    rawDefault: () => `${os.hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`,
    schema: z.string().trim().min(1).max(100),
  },
  intOpt('DEFAULT_TIMEOUT_MS', 10_000, 1, MAX_TIMEOUT_CEILING, 'Wall-clock limit per attempt when neither the task nor the agent sets one.'),
  intOpt('MAX_TIMEOUT_MS', 300_000, 1, MAX_TIMEOUT_CEILING, 'Largest timeoutMs a task or agent may ask for.'),
  bytesOpt('DEFAULT_MEMORY_BYTES', 64 * MiB, 64 * KiB, MEMORY_CEILING, 'Linear memory cap when neither the task nor the agent sets one.'),
  bytesOpt('MAX_MEMORY_BYTES', 1 * GiB, 64 * KiB, MEMORY_CEILING, 'Largest memoryBytes a task or agent may ask for; registerAgent refuses a module whose declared initial memory is larger.'),
  bytesOpt('DEFAULT_MAX_OUTPUT_BYTES', 1 * MiB, 1, 1 * GiB, 'stdout and stderr are each kept up to this size (then truncated) by default.'),
  bytesOpt('MAX_OUTPUT_BYTES', 16 * MiB, 1, 1 * GiB, 'Largest maxOutputBytes a task or agent may ask for.'),
  optional('DEFAULT_FUEL', 'Instruction budget when none is given; unset = unmetered.', `an integer from 1 to ${FUEL_MAX}`, bigint(1n, FUEL_MAX)),
  optional('MAX_FUEL', 'Largest fuel a task or agent may ask for; unset = no maximum.', `an integer from 1 to ${FUEL_MAX}`, bigint(1n, FUEL_MAX)),
  intOpt('DEFAULT_MAX_ATTEMPTS', 3, 1, 100, 'Attempts per task (first run included) when the task sets no retry policy.'),
  intOpt('MAX_ATTEMPTS_LIMIT', 10, 1, 100, 'Largest maxAttempts a task may ask for.'),
  intOpt('BACKOFF_INITIAL_MS', 1000, 0, MAX_TIMEOUT_CEILING, 'Default initial retry backoff (doubled per attempt, full jitter).'),
  intOpt('BACKOFF_MAX_MS', 60_000, 0, MAX_TIMEOUT_CEILING, 'Default cap on the retry backoff.'),
  intOpt('BACKOFF_MAX_MS_LIMIT', 3_600_000, 0, MAX_TIMEOUT_CEILING, 'Largest initialBackoffMs and maxBackoffMs a task may ask for.'),
  {
    name: 'DEFAULT_RETRY_ON',
    default: 'timeout,host_error',
    description: 'Outcome kinds that retry (comma-separated) when the task sets no retryOn.',
    allowed: `a comma-separated list of ${RETRYABLE_KINDS.join(', ')}`,
    rawDefault: () => 'timeout,host_error',
    schema: listOf(RETRYABLE_KINDS),
  },
  // V8 refuses a table of more than 10,000,000 elements; each costs ~28 bytes outside the memory cap (measured on Node 20).
  intOpt('MAX_TABLE_ELEMENTS', TABLE_ELEMENTS_DEFAULT, 0, 10_000_000, 'Most elements the tables of a module may hold together (each ~28 bytes beside its memory): registerAgent refuses a module that declares more initially, and at run time table.grow past it returns -1.'),
  bytesOpt('MAX_MODULE_BYTES', 32 * MiB, 8, 1 * GiB, 'Largest module accepted by registerAgent and POST /modules.'),
  intOpt('BUILD_CONCURRENCY', 1, 1, 64, 'Builds from source (registerAgent or buildAgent with `source`) running at once on this node; more wait in order. AssemblyScript builds in a thread of its own (512 MiB JavaScript heap), C and C++ on a runtime of the builds\' own (clang\'s memory capped at 512 MiB).'),
  intOpt('BUILD_TIMEOUT_MS', 60_000, 1000, MAX_TIMEOUT_CEILING, 'A build from source that takes longer fails (BUILD_FAILED); its thread is stopped.'),
  bytesOpt('MAX_SOURCE_BYTES', 1 * MiB, 1, 64 * MiB, 'Largest total size of the source files of one build.'),
  bytesOpt('MAX_STDIN_BYTES', 8 * MiB, 0, 1 * GiB, 'Largest stdin per task.'),
  bytesOpt('MAX_FILES_BYTES', 32 * MiB, 0, 1 * GiB, 'Largest total size of a task\'s input files.'),
  bytesOpt('MAX_REQUEST_BYTES', 64 * MiB, 1 * KiB, 4 * GiB, 'Largest GraphQL request body (JSON, base64 included).'),
  intOpt('MAX_BATCH', 1000, 1, 100_000, 'Most tasks per submitTasks call.'),
  intOpt('BULK_MAX', 10_000, 1, 1_000_000, 'Most tasks one cancelTasks, retryTasks or deleteTasks call with a filter acts on; its `remaining` counts the matching tasks it left for the next call.'),
  intOpt('COUNT_EXACT_MAX', 10_000, 0, 100_000_000, 'Largest count the API computes exactly (`totalCount`, `stats` per status): up to it a count reads at most this many index entries; past it the answer is the query planner\'s estimate, flagged (`totalCountExact`, `exact` false) and never below COUNT_EXACT_MAX + 1. Keeps these reads flat as the task table grows.'),
  intOpt(
    'API_STATEMENT_TIMEOUT_MS',
    5000,
    0,
    3_600_000,
    'PostgreSQL: longest one database statement of an API request may run (statement_timeout; 0 = no limit); past it the request fails with STATEMENT_TIMEOUT. The executor\'s statements run on connections of their own without it. PGlite cannot enforce it (the query cost limit bounds its statements).',
  ),
  intOpt('LEASE_MS', 30_000, 100, 3_600_000, 'Lease on a claimed or running task; another node takes it over this long after its node stops heartbeating.'),
  intOpt('SHUTDOWN_GRACE_MS', 10_000, 0, 3_600_000, 'On SIGINT/SIGTERM, how long running tasks may finish before they go back to the queue.'),
  {
    name: 'AUTH',
    default: 'off when HOST is a loopback address, else on',
    description: 'on: every request needs an API key (Authorization: Bearer spd_…). off: callers act as the admin of the default tenant; allowed only when HOST is a loopback address.',
    allowed: 'on or off',
    schema: oneOf(['on', 'off'] as const),
  },
  {
    name: 'SPINDLE_ADMIN_KEY',
    default: undefined,
    description: 'A system admin key (spd_ and at least 32 more characters) ensured at start-up; unset = a key is generated and printed once on the first start with AUTH=on.',
    allowed: 'spd_ followed by at least 32 of A-Z, a-z, 0-9, "_", "-"',
    secret: true,
    schema: z.string().trim().regex(/^spd_[A-Za-z0-9_-]{32,200}$/),
  },
  { name: 'INTROSPECTION', default: 'true', description: 'Answer GraphQL introspection (__schema, __type) over HTTP and WebSocket, and show the GraphQL explorer to browsers at /graphql.', allowed: 'true or false', rawDefault: () => 'true', schema: bool },
  intOpt('MAX_QUERY_DEPTH', 12, 1, 1000, 'Deepest selection nesting a GraphQL operation may have.'),
  intOpt('MAX_QUERY_COST', 50_000, 1, 100_000_000, 'Largest estimated cost of one GraphQL operation: what its fields cost the database and the server, in units of about 20 µs (a totalCount 400, a page 60 plus its rows, a task\'s attempts 60, other fields 1; table in src/graphql/cost.ts), list fields × their `first`/batch size. The default admits about one second of work.'),
  intOpt('MAX_SUBSCRIPTIONS_PER_CONNECTION', 100, 1, 100_000, 'Open subscriptions one WebSocket may hold; one more closes it (4400).'),
  intOpt('WS_INIT_TIMEOUT_MS', 3000, 100, 600_000, 'A WebSocket that sends no connection_init within this time is closed (4408).'),
  intOpt('QUOTA_QUEUED_TASKS', 100_000, 1, 100_000_000, 'Per tenant: most tasks waiting (QUEUED or RETRYING); a submit that would pass it is refused.'),
  intOpt('QUOTA_ACTIVE_TASKS', 200_000, 1, 100_000_000, 'Per tenant: most unfinished tasks (waiting or RUNNING); a submit that would pass it is refused.'),
  intOpt('QUOTA_RUNNING_TASKS', 0, 0, 1_000_000, 'Per tenant, across the whole cluster: most tasks RUNNING at once, counting those a node has claimed for its workers (0 = no cap). The rest wait queued and are claimed as slots free up; other tenants\' tasks are claimed meanwhile.'),
  bytesOpt('QUOTA_STORED_BYTES', 1 * GiB, 0, 1024 * GiB, 'Per tenant: total size of the modules it stored (registerAgent, POST /modules).'),
  bytesOpt('QUOTA_TASK_BYTES', 64 * GiB, 1 * KiB, 1024 * 1024 * GiB, 'Per tenant: total size of what its tasks\' attempts store (stdout, stderr, output files); a submit while the tenant is at it is refused until the sweeper (RETAIN_*) or deletes free room. Read from a figure cached for 1 s.'),
  intOpt('QUOTA_SUBMIT_RATE', 10_000, 1, 10_000_000, 'Per tenant and node: tasks submitted per second, sustained (token bucket).'),
  intOpt('QUOTA_SUBMIT_BURST', 20_000, 1, 100_000_000, 'Per tenant and node: tasks submitted at once after a quiet spell (token bucket size).'),
  durationOpt('RETAIN_SUCCEEDED', undefined, RETAIN_MIN, RETAIN_MAX, 'How long a SUCCEEDED task (its attempts, output and files) is kept after it finished; unset = forever. A tenant may override it.'),
  durationOpt('RETAIN_FAILED', undefined, RETAIN_MIN, RETAIN_MAX, 'How long a FAILED task is kept after it finished; unset = forever. A tenant may override it.'),
  durationOpt('RETAIN_CANCELLED', undefined, RETAIN_MIN, RETAIN_MAX, 'How long a CANCELLED task is kept after it finished; unset = forever. A tenant may override it.'),
  durationOpt('SWEEP_INTERVAL', 60 * SECOND, SECOND, DAY, 'How often each executing node runs the sweeper (expired tasks, unreferenced blobs); nodes take turns through an advisory lock.'),
  intOpt('SWEEP_BATCH', 500, 1, 5000, 'Most rows the sweeper deletes per statement (each in a short transaction of its own).'),
  durationOpt('BLOB_GC_GRACE', DAY, 60 * SECOND, RETAIN_MAX, 'A blob nothing references (module never registered, version of a deleted agent with no tasks left, file bundle) is deleted once it is this old.'),
  { name: 'LOG_LEVEL', default: 'info', description: 'pino log level.', allowed: `one of ${LOG_LEVELS.join(', ')}`, rawDefault: () => 'info', schema: oneOf(LOG_LEVELS) },
  // OpenTelemetry traces (server/tracing.ts): the standard variables, read here like every other option.
  { name: 'OTEL_SDK_DISABLED', default: 'false', description: 'true: no traces whatever the other OTEL_* variables say.', allowed: 'true or false', rawDefault: () => 'false', schema: bool },
  optional(
    'OTEL_TRACES_EXPORTER',
    'Where traces go: otlp (OTLP over HTTP, JSON encoding), console (stdout, for a look), none. Unset = otlp when an OTLP endpoint below is set, else none: traces are off unless asked for.',
    `one of ${TRACES_EXPORTERS.join(', ')}`,
    oneOf(TRACES_EXPORTERS),
  ),
  optional(
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'OTLP/HTTP base URL of a collector (e.g. http://localhost:4318); traces go to its /v1/traces. Setting it switches traces on. With OTEL_TRACES_EXPORTER=otlp and no endpoint: http://localhost:4318.',
    'an http:// or https:// URL',
    url(['http:', 'https:']),
  ),
  optional('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTLP/HTTP URL for traces, used as is (wins over OTEL_EXPORTER_OTLP_ENDPOINT). Setting it switches traces on.', 'an http:// or https:// URL', url(['http:', 'https:'])),
  {
    name: 'OTEL_EXPORTER_OTLP_HEADERS',
    default: undefined,
    description: 'Headers sent with every OTLP export, as key=value pairs separated by commas, values percent-encoded (e.g. authorization=Bearer%20abc).',
    allowed: 'key=value pairs separated by commas, values percent-encoded',
    secret: true,
    schema: otlpHeaders,
  },
  { name: 'OTEL_SERVICE_NAME', default: 'spindle', description: 'service.name of the traces (the node is service.instance.id, NODE_ID).', allowed: 'a name', rawDefault: () => 'spindle', schema: text },
  {
    name: 'OTEL_TRACES_SAMPLER',
    default: 'parentbased_always_on',
    description: 'Which traces are kept: parentbased_* follow the caller\'s traceparent sampled flag when there is one; traceidratio keeps OTEL_TRACES_SAMPLER_ARG of them.',
    allowed: `one of ${TRACES_SAMPLERS.join(', ')}`,
    rawDefault: () => 'parentbased_always_on',
    schema: oneOf(TRACES_SAMPLERS),
  },
  { name: 'OTEL_TRACES_SAMPLER_ARG', default: '1', description: 'The ratio of the traceidratio samplers.', allowed: 'a number from 0 to 1', rawDefault: () => '1', schema: ratio },
];

/** The config variable behind each per-tenant quota (its default, its range, and the name errors show). */
export const QUOTA_OPTIONS: Readonly<Record<TenantQuota, string>> = Object.freeze({
  queuedTasks: 'QUOTA_QUEUED_TASKS',
  activeTasks: 'QUOTA_ACTIVE_TASKS',
  runningTasks: 'QUOTA_RUNNING_TASKS',
  storedBytes: 'QUOTA_STORED_BYTES',
  submitRate: 'QUOTA_SUBMIT_RATE',
  submitBurst: 'QUOTA_SUBMIT_BURST',
  taskBytes: 'QUOTA_TASK_BYTES',
});

/** The inclusive range of an integer or byte option, as its schema enforces it. */
export function optionRange(name: string): { min: number; max: number } {
  const range = OPTION_SPECS.find((o) => o.name === name)?.range;
  if (!range) throw new Error(`option ${name} has no numeric range`);
  return range;
}

/** The documented options, for the README and `--help`. */
export const CONFIG_OPTIONS: readonly { name: string; default: string; description: string }[] = OPTION_SPECS.map((o) => ({
  name: o.name,
  default: o.default ?? '(unset)',
  description: o.description,
}));

/** The options as a Markdown table (name, default, meaning), for the README. */
export function configTableMarkdown(): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    '| Variable | Default | Meaning |',
    '|---|---|---|',
    ...CONFIG_OPTIONS.map((o) => `| \`${o.name}\` | ${esc(o.default)} | ${esc(o.description)} |`),
  ].join('\n');
}
