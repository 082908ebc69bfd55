/**
 * POST /modules: upload a module as raw bytes (Content-Type: application/wasm), an HTTP adapter
 * over ModuleService.upload (streamed into the blob store with a size cap, then checked). 201
 * {digest, size, imports, exports}; the digest then goes to registerAgent(input: {name,
 * moduleDigest}). Errors are JSON: {error: {code, message, field?}}; while the database is
 * unreachable, 503 UNAVAILABLE with Retry-After (the upload may be repeated: blobs are stored by
 * content). A refusal before the body was read closes the connection instead of reading it.
 */
import type { Request, RequestHandler, Response } from 'express';
import { SpindleError, type Principal } from '../domain/index.js';
import type { Services } from '../services/index.js';
import { RETRY_AFTER_SECONDS, storeFailure } from '../services/failures.js';
import { requestLogger, type Logger } from './logger.js';

interface Deps {
  services: Services;
  logger: Logger;
}

export function fail(res: Response, status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
  res.status(status).json({ error: { code, message, ...extra } });
}

/** Answers early and stops reading a body we will not use (the client may still be sending). */
function refuse(req: Request, res: Response, status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
  res.setHeader('Connection', 'close');
  fail(res, status, code, message, extra);
  res.on('finish', () => setTimeout(() => req.destroy(), 1000).unref());
  req.resume();
}

/** The request's id, which the request log put in `res.locals` (request-log.ts). */
const requestIdOf = (res: Response): string => String(res.locals.requestId);

/** Thrown by the body's opener: not a module upload at all. */
class UnsupportedMediaType extends Error {}

export function modulesHandler({ services, logger }: Deps): RequestHandler {
  return async (req, res) => {
    let bodyRead = false;
    const answer = (status: number, code: string, message: string, extra: Record<string, unknown> = {}) =>
      bodyRead ? fail(res, status, code, message, extra) : refuse(req, res, status, code, message, extra);
    try {
      // Who first: nothing of an unauthenticated caller's body is read or stored.
      let caller: Principal;
      try {
        caller = await services.auth.authenticate(req.headers);
      } catch (err) {
        if (!(err instanceof SpindleError && err.code === 'UNAUTHENTICATED')) throw err;
        res.setHeader('WWW-Authenticate', 'Bearer realm="spindle"');
        return refuse(req, res, 401, err.code, err.message);
      }
      const declared = Number(req.headers['content-length'] ?? NaN);
      const openBody = () => {
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/wasm') throw new UnsupportedMediaType(`Content-Type must be application/wasm (got ${JSON.stringify(req.headers['content-type'] ?? '')})`);
        return (async function* () {
          yield* req;
          bodyRead = true;
        })();
      };
      const uploaded = await services.forRequest(requestIdOf(res)).modules.upload(caller, openBody, Number.isFinite(declared) ? declared : null);
      res.status(201).json(uploaded);
    } catch (err) {
      if (err instanceof UnsupportedMediaType) return refuse(req, res, 415, 'UNSUPPORTED_MEDIA_TYPE', err.message, { field: 'Content-Type' });
      // The database could not be asked (auth, quota, record): the client should come back later.
      const failure = err instanceof SpindleError ? err : storeFailure(err);
      if (!failure || res.headersSent) throw err;
      switch (failure.code) {
        case 'UNAVAILABLE':
        case 'STATEMENT_TIMEOUT':
          requestLogger(logger, requestIdOf(res)).warn({ err: { message: (err as Error).message }, code: failure.code }, 'database failure in POST /modules');
          res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
          return refuse(req, res, 503, failure.code, failure.message);
        case 'FORBIDDEN':
          return answer(403, failure.code, failure.message);
        case 'LIMIT_EXCEEDED':
          return answer(413, failure.code, failure.message, { field: 'body', ...failure.details });
        default:
          // An empty body, an invalid module.
          return answer(400, failure.code, failure.message, { field: 'body' });
      }
    }
  };
}
