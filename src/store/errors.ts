/**
 * What a failed database call means for its caller, as far as the store can tell. Only the store
 * knows the drivers (pg, PGlite) and Prisma, so the edge asks here instead of matching driver
 * errors itself:
 *
 * - 'unavailable': the database could not be reached or dropped the connection (network errors,
 *   SQLSTATE class 08, shutdown and start-up states, too many connections). The statement may or
 *   may not have taken effect; the same call is worth retrying once the database is back.
 * - 'statement_timeout': the database cancelled the statement (57014, statement_timeout).
 * - null: anything else (a bug, a constraint, bad SQL): not the caller's to retry.
 *
 * The error shapes were probed with pg 8 and Prisma 7 over @prisma/adapter-pg
 * (test/integration/store.errors.test.ts raises each one for real): pg gives Node socket errors
 * (`code: 'ECONNRESET'`), plain Errors ("Connection terminated unexpectedly", also as a `cause`)
 * or a DatabaseError with the SQLSTATE in `code`; Prisma gives P1001/P1017 for model queries and
 * P2010 for raw ones, with the driver's error in `meta.driverAdapterError.cause` (`kind`
 * DatabaseNotReachable, ConnectionClosed, SocketTimeout, TooManyConnections, or `kind: 'postgres'`
 * with the SQLSTATE in `code`).
 */

export type StoreErrorKind = 'unavailable' | 'statement_timeout';

/** Node socket errors: the connection could not be made or broke. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATEs that mean "not now": 57P01 admin_shutdown (also pg_terminate_backend), 57P02
 * crash_shutdown, 57P03 cannot_connect_now (starting up, recovering), 53300 too_many_connections;
 * class 08 (connection exception) is matched by prefix.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const STATEMENT_TIMEOUT_SQLSTATE = '57014';

/** Prisma's own codes for the same: can't reach, timed out, server closed the connection, pool timeout. */
const PRISMA_UNAVAILABLE = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);

/** @prisma/adapter-pg's `driverAdapterError.cause.kind` for connection failures. */
const ADAPTER_UNAVAILABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);

/** pg's messages for a connection that ended or never came (plain Errors, no code). */
const PG_CONNECTION_MESSAGES = [
  /^Connection terminated/, // "… unexpectedly", "… due to connection timeout"
  /^timeout exceeded when trying to connect/, // pg-pool's connectionTimeoutMillis
  /^Client has encountered a connection error and is not queryable/,
  /^Client was closed and is not queryable/,
];

const SQLSTATE = /^[0-9A-Z]{5}$/;

function sqlstateKind(code: string): StoreErrorKind | null {
  if (code === STATEMENT_TIMEOUT_SQLSTATE) return 'statement_timeout';
  if (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code)) return 'unavailable';
  return null;
}

/** The kind of one error object, without looking at its causes. */
function ownKind(err: Record<string, unknown>): StoreErrorKind | null {
  const code = typeof err.code === 'string' ? err.code : null;
  if (code) {
    if (NETWORK_CODES.has(code) || PRISMA_UNAVAILABLE.has(code)) return 'unavailable';
    // pg's DatabaseError and PGlite's both carry the SQLSTATE in `code` (and a `severity`).
    if (SQLSTATE.test(code) && typeof err.severity === 'string') {
      const kind = sqlstateKind(code);
      if (kind) return kind;
    }
  }
  // The adapter's view of the driver error (P2010 and friends).
  const meta = err.meta as { driverAdapterError?: { cause?: Record<string, unknown> } } | undefined;
  const adapter = meta?.driverAdapterError?.cause;
  if (adapter) {
    if (typeof adapter.kind === 'string' && ADAPTER_UNAVAILABLE_KINDS.has(adapter.kind)) return 'unavailable';
    const sqlstate = adapter.originalCode ?? adapter.code;
    if (typeof sqlstate === 'string' && SQLSTATE.test(sqlstate)) {
      const kind = sqlstateKind(sqlstate);
      if (kind) return kind;
    }
  }
  const message = typeof err.message === 'string' ? err.message : '';
  if (PG_CONNECTION_MESSAGES.some((re) => re.test(message))) return 'unavailable';
  return null;
}

/**
 * The kind of `err`, looking through its `cause` chain (and an AggregateError's `errors`, as
 * Node gives for a connect that failed on every address). The first classified error decides.
 */
export function storeErrorKind(err: unknown): StoreErrorKind | null {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0 && seen.size < 16) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null || seen.has(e)) continue;
    seen.add(e);
    const kind = ownKind(e as Record<string, unknown>);
    if (kind) return kind;
    const { cause, errors } = e as { cause?: unknown; errors?: unknown };
    queue.push(cause);
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return null;
}
