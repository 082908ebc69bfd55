import type { RequestHandler } from 'express';
import type { Config } from '../config/index.js';
import type { EventBus } from '../executor/types.js';
import type { Store } from '../store/types.js';

const PING_TIMEOUT_MS = 2000;

/** GET /healthz: 200 when the database answers within 2 s, else 503. */
export function healthHandler({ config, store, bus }: { config: Config; store: Store; bus: EventBus }): RequestHandler {
  return async (_req, res) => {
    const body = { node: config.nodeId, role: config.role, database: store.kind, pubsub: bus.kind };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        store.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`database did not answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
        }),
      ]);
      res.status(200).json({ status: 'ok', ...body });
    } catch (err) {
      res.status(503).json({ status: 'unavailable', error: (err as Error).message, ...body });
    } finally {
      clearTimeout(timer);
    }
  };
}
