/**
 * Errors at the edge (STYLE §4): a SpindleError becomes `extensions.code` plus its details,
 * GraphQL's own errors (syntax, validation, variable coercion) pass through, a database that is
 * unreachable or timed a statement out becomes UNAVAILABLE or STATEMENT_TIMEOUT (the store says
 * which: services/failures.ts), and anything else is logged with its stack and masked as "Internal
 * server error". Used by Apollo (HTTP) and by graphql-ws (subscriptions) alike.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import { SpindleError } from '../domain/index.js';
import { storeFailure } from '../services/failures.js';

export const INTERNAL_MESSAGE = 'Internal server error';

function rootCause(error: unknown): unknown {
  let e = error;
  while (e instanceof GraphQLError && e.originalError) e = e.originalError;
  return e;
}

/** Builds the client-facing form of an error; `formatted` is what graphql/Apollo would have sent. */
export function formatError(formatted: GraphQLFormattedError, error: unknown, logger: Logger): GraphQLFormattedError {
  let cause = rootCause(error);
  const failure = cause instanceof SpindleError || cause instanceof GraphQLError ? null : storeFailure(cause);
  if (failure) {
    // Expected while the database is away: one line, no stack; the client is told to retry.
    logger.warn({ err: { message: (cause as Error).message }, path: formatted.path, code: failure.code }, 'database failure in a GraphQL operation');
    cause = failure;
  }
  if (cause instanceof SpindleError) {
    return {
      message: cause.message,
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { ...cause.details, code: cause.code },
    };
  }
  if (cause instanceof GraphQLError) {
    // GraphQL's own: parse, validation, coercion. Never carries a stack to the client.
    const { stacktrace: _drop, http: _http, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
    // Our limits (depth, cost) are validation errors to Apollo, which re-codes them; a quota says what they are.
    const code = extensions.quota ? 'LIMIT_EXCEEDED' : (extensions.code ?? 'BAD_USER_INPUT');
    return { ...formatted, extensions: { ...extensions, code } };
  }
  logger.error({ err: cause, path: formatted.path }, 'unexpected error in a GraphQL operation');
  return {
    message: INTERNAL_MESSAGE,
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  };
}

/**
 * Which request's logger an error is logged with: Apollo's formatError sees the error but not the
 * request, so a plugin, which sees both (server/graphql.ts), records the request's logger for each
 * of its errors first (Apollo reports errors to plugins before it formats them). An error not
 * recorded (one thrown before the request began, e.g. by the context function) is logged with the
 * node's logger.
 */
const errorLoggers = new WeakMap<object, Logger>();

/** Apollo's formatError: formatError with the logger of the request the error belongs to (see errorLoggers). */
export const formatRequestError =
  (nodeLogger: Logger) =>
  (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError =>
    formatError(formatted, error, (typeof error === 'object' && error !== null && errorLoggers.get(error)) || nodeLogger);

/** Records that `errors` belong to the request logging with `logger` (server/graphql.ts's plugin calls it). */
export function noteRequestErrors(errors: readonly object[], logger: Logger): void {
  for (const error of errors) errorLoggers.set(error, logger);
}

/** For graphql-ws, which hands over GraphQLError instances rather than formatted ones. */
export const formatGraphQLError = (error: GraphQLError, logger: Logger): GraphQLFormattedError =>
  formatError(error.toJSON(), error, logger);
