/**
 * The closed vocabulary of errors the service raises on purpose. The GraphQL layer maps `code`
 * to `extensions.code`; anything that is not a SpindleError is unexpected and gets masked.
 */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'LIMIT_EXCEEDED'
  | 'CONFLICT'
  | 'INVALID_MODULE'
  /** A build from source failed: `details.diagnostics` (file, line, column, message) and `details.log`. */
  | 'BUILD_FAILED'
  /** The database cannot be reached now: retry later (HTTP 503 with Retry-After). */
  | 'UNAVAILABLE'
  /** The database cancelled a statement that ran past its timeout: retry, or ask for less. */
  | 'STATEMENT_TIMEOUT';

export class SpindleError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra machine-readable detail, e.g. `{ field: 'limits.timeoutMs', max: 300000 }`. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'SpindleError';
  }
}

export const badInput = (field: string, message: string, details: Record<string, unknown> = {}) =>
  new SpindleError('BAD_USER_INPUT', `${field}: ${message}`, { field, ...details });

export const notFound = (what: string, id: string) =>
  new SpindleError('NOT_FOUND', `${what} ${id} not found`, { id });

export const limitExceeded = (quota: string, limit: number | bigint, message?: string) =>
  new SpindleError('LIMIT_EXCEEDED', message ?? `${quota} exceeds its limit of ${limit}`, {
    quota,
    limit: String(limit),
  });

/**
 * The database is unreachable (or dropped the connection). Whether the operation took effect is
 * unknown; repeating it is right: a submit with the same idempotencyKey yields the same task.
 */
export const unavailable = (retryAfterSeconds: number) =>
  new SpindleError('UNAVAILABLE', `the database is unavailable; retry in ${retryAfterSeconds} s (a submit with the same idempotencyKey)`, { retryAfterSeconds });

/** The database cancelled a statement at its statement timeout (`timeoutMs` when known). */
export const statementTimeout = (timeoutMs?: number) =>
  new SpindleError(
    'STATEMENT_TIMEOUT',
    `the database did not answer within ${timeoutMs === undefined ? 'the statement timeout' : `${timeoutMs} ms`} (API_STATEMENT_TIMEOUT_MS); retry, or ask for less (a smaller page, fewer counts or fields)`,
    timeoutMs === undefined ? {} : { timeoutMs },
  );
