import { pino, type Logger } from 'pino';
import type { Config } from '../config/index.js';

export type { Logger } from 'pino';

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

/** One JSON logger per process (pino), tagged with the node, with secrets redacted. */
export function makeLogger(config: Pick<Config, 'logLevel' | 'nodeId'>, destination?: pino.DestinationStream): Logger {
  const options = { level: config.logLevel, base: { node: config.nodeId }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
