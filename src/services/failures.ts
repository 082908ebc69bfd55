/**
 * A database failure as the caller should see it: the store says what a failed call means
 * (store/errors.ts), this turns it into the domain's UNAVAILABLE or STATEMENT_TIMEOUT, so that
 * every transport answers it the same way (GraphQL errors, POST /modules, the WebSocket close).
 */
import { SpindleError, statementTimeout, unavailable } from '../domain/index.js';
import { storeErrorKind } from '../store/index.js';

/**
 * Retry-After (seconds) of an UNAVAILABLE answer. A PostgreSQL restart takes a few seconds and a
 * failover tens of seconds: retrying sooner mostly buys another 503, and each costs the node a
 * connection attempt; much later leaves clients idle after a short blip. Clients should add jitter.
 */
export const RETRY_AFTER_SECONDS = 5;

/** A database failure as the SpindleError the caller should see, or null when it is not one. */
export function storeFailure(err: unknown): SpindleError | null {
  switch (storeErrorKind(err)) {
    case 'unavailable':
      return unavailable(RETRY_AFTER_SECONDS);
    case 'statement_timeout':
      return statementTimeout();
    default:
      return null;
  }
}
