/**
 * Every environment variable Spindle reads, with its default and meaning. This table is the single
 * source: `loadConfig` parses with it, the README documents from it (`CONFIG_OPTIONS`).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { z } from 'zod';
import type { TenantQuota } from '../domain/index.js';

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

/** Bytes as an integer, or with a binary unit: `65536`, `64KiB`, `64MiB`, `1GiB` (k/m/g are binary too). */
const bytes = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+\s*([kmg](i?b)?|b)?$/i)
    .transform((s) => {
      const m = /^(\d+)\s*([a-z]*)$/i.exec(s)!;
      return Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
    })
    .pipe(z.number().int().min(min).max(max));

const bigint = (min: bigint) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/)
    .transform((s) => BigInt(s))
    .refine((n) => n >= min);

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

const optional = (name: string, description: string, allowed: string, schema: z.ZodType): OptionSpec => ({
  name,
  default: undefined,
  description,
  allowed,
  schema,
});

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const ROLES = ['all', 'api', 'worker'] as const;

const MAX_TIMEOUT_CEILING = 24 * 3600 * 1000;
const MEMORY_CEILING = 4 * GiB; // wasm32 address space

export const OPTION_SPECS: readonly OptionSpec[] = [
  intOpt('PORT', 4000, 0, 65535, 'HTTP port for the API, WebSocket subscriptions, dashboard, /healthz and /metrics (0 = any free port).'),
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
  bytesOpt('MAX_MEMORY_BYTES', 1 * GiB, 64 * KiB, MEMORY_CEILING, 'Largest memoryBytes a task or agent may ask for.'),
  bytesOpt('DEFAULT_MAX_OUTPUT_BYTES', 1 * MiB, 1, 1 * GiB, 'stdout and stderr are each kept up to this size (then truncated) by default.'),
  bytesOpt('MAX_OUTPUT_BYTES', 16 * MiB, 1, 1 * GiB, 'Largest maxOutputBytes a task or agent may ask for.'),
  optional('DEFAULT_FUEL', 'Instruction budget when none is given; unset = unmetered.', 'a positive integer', bigint(1n)),
  optional('MAX_FUEL', 'Largest fuel a task or agent may ask for; unset = no maximum.', 'a positive integer', bigint(1n)),
  intOpt('DEFAULT_MAX_ATTEMPTS', 3, 1, 100, 'Attempts per task (first run included) when the task sets no retry policy.'),
  intOpt('MAX_ATTEMPTS_LIMIT', 10, 1, 100, 'Largest maxAttempts a task may ask for.'),
  intOpt('BACKOFF_INITIAL_MS', 1000, 0, MAX_TIMEOUT_CEILING, 'Default initial retry backoff (doubled per attempt, full jitter).'),
  intOpt('BACKOFF_MAX_MS', 60_000, 0, MAX_TIMEOUT_CEILING, 'Default cap on the retry backoff (a task may ask for up to 1 hour).'),
  bytesOpt('MAX_MODULE_BYTES', 32 * MiB, 8, 1 * GiB, 'Largest module accepted by registerAgent and POST /modules.'),
  bytesOpt('MAX_STDIN_BYTES', 8 * MiB, 0, 1 * GiB, 'Largest stdin per task.'),
  bytesOpt('MAX_FILES_BYTES', 32 * MiB, 0, 1 * GiB, 'Largest total size of a task\'s input files.'),
  bytesOpt('MAX_REQUEST_BYTES', 64 * MiB, 1 * KiB, 4 * GiB, 'Largest GraphQL request body (JSON, base64 included).'),
  intOpt('MAX_BATCH', 1000, 1, 100_000, 'Most tasks per submitTasks call.'),
  intOpt('LEASE_MS', 30_000, 100, 3_600_000, 'Lease on a running task; another node takes it over this long after its node stops heartbeating.'),
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
  { name: 'INTROSPECTION', default: 'true', description: 'Answer GraphQL introspection (__schema, __type) over HTTP and WebSocket.', allowed: 'true or false', rawDefault: () => 'true', schema: bool },
  intOpt('MAX_QUERY_DEPTH', 12, 1, 1000, 'Deepest selection nesting a GraphQL operation may have.'),
  intOpt('MAX_QUERY_COST', 50_000, 1, 100_000_000, 'Largest estimated cost of one GraphQL operation (1 per field, list fields × their `first`/page size).'),
  intOpt('MAX_SUBSCRIPTIONS_PER_CONNECTION', 100, 1, 100_000, 'Open subscriptions one WebSocket may hold; one more closes it (4400).'),
  intOpt('WS_INIT_TIMEOUT_MS', 3000, 100, 600_000, 'A WebSocket that sends no connection_init within this time is closed (4408).'),
  intOpt('QUOTA_QUEUED_TASKS', 100_000, 1, 100_000_000, 'Per tenant: most tasks waiting (QUEUED or RETRYING); a submit that would pass it is refused.'),
  intOpt('QUOTA_ACTIVE_TASKS', 200_000, 1, 100_000_000, 'Per tenant: most unfinished tasks (waiting or RUNNING); a submit that would pass it is refused.'),
  intOpt('QUOTA_RUNNING_TASKS', 0, 0, 1_000_000, 'Per tenant, across the whole cluster: most tasks RUNNING at once (0 = no cap). The rest wait queued and are claimed as slots free up; other tenants\' tasks are claimed meanwhile.'),
  bytesOpt('QUOTA_STORED_BYTES', 1 * GiB, 0, 1024 * GiB, 'Per tenant: total size of the modules it stored (registerAgent, POST /modules).'),
  intOpt('QUOTA_SUBMIT_RATE', 10_000, 1, 10_000_000, 'Per tenant and node: tasks submitted per second, sustained (token bucket).'),
  intOpt('QUOTA_SUBMIT_BURST', 20_000, 1, 100_000_000, 'Per tenant and node: tasks submitted at once after a quiet spell (token bucket size).'),
  { name: 'LOG_LEVEL', default: 'info', description: 'pino log level.', allowed: `one of ${LOG_LEVELS.join(', ')}`, rawDefault: () => 'info', schema: oneOf(LOG_LEVELS) },
];

/** The config variable behind each per-tenant quota (its default, its range, and the name errors show). */
export const QUOTA_OPTIONS: Readonly<Record<TenantQuota, string>> = Object.freeze({
  queuedTasks: 'QUOTA_QUEUED_TASKS',
  activeTasks: 'QUOTA_ACTIVE_TASKS',
  runningTasks: 'QUOTA_RUNNING_TASKS',
  storedBytes: 'QUOTA_STORED_BYTES',
  submitRate: 'QUOTA_SUBMIT_RATE',
  submitBurst: 'QUOTA_SUBMIT_BURST',
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
