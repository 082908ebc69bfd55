/**
 * Request ids and the request log. Every HTTP request (and the WebSocket upgrade) gets an id: the
 * client's `x-request-id` when it is a plain token of at most 128 characters, else a new UUID.
 * The id is echoed in the response's `x-request-id` and put on every log line the request causes
 * (logger.ts `requestLogger`; the later handlers find it in `res.locals.requestId`). When the
 * response is sent, one line says what was asked and how it went: `info` for the API, `debug`
 * for /healthz and /metrics (polled every few seconds), `warn` for a 5xx.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import type { Logger } from './logger.js';

export const REQUEST_ID_HEADER = 'x-request-id';
/** What a client-sent request id may be: anything else is replaced, never echoed or logged. */
const CLIENT_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;
const QUIET = new Set(['/healthz', '/metrics']);

/** The request's id: the client's when acceptable, else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const sent = req.headers[REQUEST_ID_HEADER];
  return typeof sent === 'string' && CLIENT_ID.test(sent) ? sent : randomUUID();
}

export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const requestId = requestIdOf(req);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const start = performance.now();
    const path = req.path;
    res.locals.requestId = requestId;
    res.once('finish', () => logRequestEnd(logger, requestId, req.method, path, res.statusCode, start));
    next();
  };
}

/** The request's line, once its response is sent. */
export function logRequestEnd(logger: Logger, requestId: string, method: string, path: string, status: number, start: number) {
  const line = { requestId, method, path, status, ms: Math.round((performance.now() - start) * 100) / 100 };
  if (status >= 500) logger.warn(line, 'request failed');
  else if (QUIET.has(path)) logger.debug(line, 'request');
  else logger.info(line, 'request');
}
