/**
 * The process's logger (pino, JSON lines), and the request's: every line a request causes carries
 * its request id, whichever layer writes it (transport, GraphQL, services), because the request
 * hands its layers a child logger bound to that id (`requestLogger`; the services get theirs from
 * `Services.forRequest`). Not through an AsyncLocalStorage: on Node 20 one, once used, hooks every
 * promise of the process, and the executor's hot path is made of promises (measured: 3–17 % more
 * server CPU per task at full load; see docs/RATIONALE.md "Request ids without AsyncLocalStorage").
 */
import { pino, type Logger } from 'pino';
import type { Config } from '../config/index.js';

export type { Logger } from 'pino';

/** What a request puts on every line it causes. */
export interface RequestScope {
  requestId: string;
}

/** The logger of one request: `logger` with its id bound to every line. */
export const requestLogger = (logger: Logger, requestId: string): Logger => logger.child({ requestId });

/** Field names a secret could sit under: API keys (headers, connection params, a created key's secret) and SPINDLE_ADMIN_KEY. */
const SECRET_FIELDS = new Set(['authorization', 'Authorization', 'secret', 'adminKey', 'connectionParams']);
/** How deep secret fields are looked for: the line's own fields and two levels below (`req.headers.authorization`, `config.auth.adminKey`). */
const SECRET_DEPTH = 3;
export const CENSOR = '[redacted]';

/**
 * The line's fields with every secret field (SECRET_FIELDS, up to SECRET_DEPTH levels down, in
 * plain objects and arrays) replaced by CENSOR; the same object when it holds none, and never the
 * caller's objects changed (what holds a secret is copied along its path). The code never logs a
 * secret on purpose; this is the net.
 *
 * Why not pino's `redact` option: pino 10's redactor (@pinojs/redact) parses every path again on
 * every line, and its wildcard paths run it once per field: with the paths this net needs, ~27 KB
 * of garbage and most of a line's cost, on two lines per request (measured with V8's sampling
 * heap profiler: 54 of the 246 KB a one-task submit allocated). This walk allocates nothing for a
 * line without secrets.
 */
export function redactSecrets<T extends object>(value: T, depth = 1): T {
  let copy: Record<string | number, unknown> | unknown[] | null = null;
  const fields = value as Record<string | number, unknown>;
  for (const key in fields) {
    if (!Object.prototype.hasOwnProperty.call(fields, key)) continue;
    const field = fields[key];
    const next = SECRET_FIELDS.has(key) ? CENSOR : depth < SECRET_DEPTH && isWalked(field) ? redactSecrets(field, depth + 1) : field;
    if (next === field) continue;
    copy ??= Array.isArray(value) ? [...value] : { ...fields };
    (copy as Record<string | number, unknown>)[key] = next;
  }
  return (copy ?? value) as T;
}

/** Plain objects (null-prototype ones too, as Node's headers) and arrays; not class instances, errors or buffers. */
function isWalked(v: unknown): v is object {
  if (v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) return true;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

let stdout: pino.DestinationStream | undefined;

/** One JSON logger per process (pino), tagged with the node, with secrets redacted; to stdout (buffered, see bufferedOutput) unless told otherwise. */
export function makeLogger(config: Pick<Config, 'logLevel' | 'nodeId'>, destination: pino.DestinationStream = (stdout ??= bufferedOutput(1))): Logger {
  const options = {
    level: config.logLevel,
    base: { node: config.nodeId },
    formatters: { log: redactSecrets },
  };
  return pino(options, destination);
}

/** How long a line may wait in the buffer before it is written, in ms. */
export const LOG_FLUSH_MS = 100;
/** Buffered lines are written once they reach this many characters, sooner than LOG_FLUSH_MS. */
const LOG_BUFFER_CHARS = 8192;

/**
 * Lines to `dest` (a file descriptor or path) in batches: once LOG_BUFFER_CHARS are waiting, or
 * `flushMs` after the first of them, and at once for an error or fatal line (it may be the last
 * before a crash). pino's default writes every line as it comes, through libuv's thread pool: on
 * this project's 2-core machines that costs 74–118 µs of CPU per line when lines come one at a
 * time (a pool thread woken, then the event loop woken back), so the two lines of a one-task
 * submit (`tasks submitted`, `request`) cost about a tenth of its server CPU; batched, a few µs
 * to ~40 (`npm run bench logs`: log_line_paced_*; docs/RATIONALE.md, "Logs in batches"). What
 * waits when the process exits is written synchronously then; a SIGKILL loses at most `flushMs`.
 */
export function bufferedOutput(dest: number | string, flushMs = LOG_FLUSH_MS): pino.DestinationStream {
  // minLength 0: what it is handed goes out at once (with whatever came while a write was under way).
  const out = pino.destination({ dest, sync: false });
  // Ended by pino's beforeExit hook at the very end (the field is missing from sonic-boom's types).
  const ended = () => (out as unknown as { destroyed: boolean }).destroyed;
  let waiting = '';
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!waiting || ended()) return;
    const batch = waiting;
    waiting = '';
    out.write(batch);
  };
  process.once('exit', () => {
    flush();
    if (!ended()) out.flushSync();
  });
  return {
    write(line: string) {
      waiting += line;
      // pino starts every line with its level: 50 error, 60 fatal.
      if (line.startsWith('{"level":5') || line.startsWith('{"level":6') || waiting.length >= LOG_BUFFER_CHARS) flush();
      else timer ??= setTimeout(flush, flushMs).unref();
    },
  };
}
