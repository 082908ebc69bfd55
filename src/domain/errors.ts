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
  | 'INVALID_MODULE';

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
