/**
 * The process's logger (pino, JSON lines) and the request scope that tags every line a request
 * causes with its request id, whichever layer writes it (services, store, executor): the scope is
 * an AsyncLocalStorage read by pino's mixin, so no layer threads a logger through its calls.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type Logger } from 'pino';
import type { Config } from '../config/index.js';

export type { Logger } from 'pino';

/** What a request puts on every line it causes. */
export interface RequestScope {
  requestId: string;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

/** A new object per line: pino's default merge assigns the line's fields into what mixin returns. */
function scopeFields(): Partial<RequestScope> {
  const scope = requestScope.getStore();
  return scope ? { requestId: scope.requestId } : {};
}

/**
 * Where a secret could sit in a logged object: API keys (headers, connection params, a created
 * key's secret) and SPINDLE_ADMIN_KEY. The code never logs them on purpose; this is the net.
 */
export const REDACT_PATHS = [
  'authorization',
  'Authorization',
  'secret',
  'adminKey',
  'connectionParams',
  '*.authorization',
  '*.Authorization',
  '*.secret',
  '*.adminKey',
  '*.connectionParams',
  '*.headers.authorization',
  '*.*.authorization',
  '*.*.secret',
  'req.headers.authorization',
  'request.headers.authorization',
  'config.auth.adminKey',
];

/** One JSON logger per process (pino), tagged with the node and the request in scope, with secrets redacted. */
export function makeLogger(config: Pick<Config, 'logLevel' | 'nodeId'>, destination?: pino.DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    base: { node: config.nodeId },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    mixin: scopeFields,
  };
  return destination ? pino(options, destination) : pino(options);
}
