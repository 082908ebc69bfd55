import { pino, type Logger } from 'pino';
import type { Config } from '../config/index.js';

export type { Logger } from 'pino';

/** One JSON logger per process (pino), tagged with the node. */
export function makeLogger(config: Pick<Config, 'logLevel' | 'nodeId'>): Logger {
  return pino({ level: config.logLevel, base: { node: config.nodeId } });
}
