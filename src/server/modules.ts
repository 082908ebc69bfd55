/**
 * POST /modules: upload a module as raw bytes (Content-Type: application/wasm), streamed into the
 * blob store with a size cap, then validated. 201 {digest, size, imports, exports}; the digest then
 * goes to registerAgent(input: {name, moduleDigest}). Errors are JSON: {error: {code, message, field?}}.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { Config } from '../config/index.js';
import { SpindleError } from '../domain/index.js';
import { hasRole, type Authenticator } from '../graphql/auth.js';
import type { Quotas } from '../graphql/quota.js';
import type { Runtime } from '../runtime/types.js';
import type { Store } from '../store/types.js';
import type { Logger } from './logger.js';

interface Deps {
  config: Config;
  store: Store;
  runtime: Runtime;
  logger: Logger;
  authenticator: Authenticator;
  quotas: Quotas;
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

export function modulesHandler({ config, store, runtime, logger, authenticator, quotas }: Deps): RequestHandler {
  const max = config.maxModuleBytes;
  const tooLarge = `module exceeds the maximum of ${max} bytes (MAX_MODULE_BYTES)`;
  return async (req, res) => {
    // Who first: nothing of an unauthenticated caller's body is read or stored.
    let tenantId: string;
    try {
      const principal = await authenticator.authenticate(req.headers);
      if (!hasRole(principal, 'submitter')) return refuse(req, res, 403, 'FORBIDDEN', `uploading a module needs the submitter role; this key is a ${principal.role}`);
      tenantId = principal.tenantId;
    } catch (err) {
      if (!(err instanceof SpindleError)) throw err;
      res.setHeader('WWW-Authenticate', 'Bearer realm="spindle"');
      return refuse(req, res, 401, err.code, err.message);
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/wasm') {
      return refuse(req, res, 415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type must be application/wasm (got ${JSON.stringify(req.headers['content-type'] ?? '')})`, {
        field: 'Content-Type',
      });
    }
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > max) return refuse(req, res, 413, 'LIMIT_EXCEEDED', tooLarge, { field: 'body', max, quota: 'MAX_MODULE_BYTES', limit: String(max) });
    try {
      // Before a byte is stored: a tenant at its quota cannot leave blobs behind. Without a
      // Content-Length the upload may be as large as MAX_MODULE_BYTES, so that much room is needed.
      await quotas.checkStore(tenantId, null, Number.isFinite(declared) ? declared : max);
    } catch (err) {
      if (err instanceof SpindleError) return refuse(req, res, 413, err.code, err.message, { field: 'body', ...err.details });
      throw err;
    }
    let stored: { digest: string; size: number };
    try {
      stored = await store.blobs.putStream(req, max);
    } catch (err) {
      if (err instanceof SpindleError && err.code === 'LIMIT_EXCEEDED') return refuse(req, res, 413, 'LIMIT_EXCEEDED', tooLarge, { field: 'body', max, quota: 'MAX_MODULE_BYTES', limit: String(max) });
      throw err;
    }
    if (stored.size === 0) return fail(res, 400, 'BAD_USER_INPUT', 'the body is empty: send the module bytes', { field: 'body' });
    const bytes = (await store.blobs.get(stored.digest))!;
    try {
      const info = await runtime.inspect(bytes);
      // The blob stays when refused here: another tenant may hold the same bytes.
      await quotas.checkStore(tenantId, stored.digest, stored.size);
      await store.modules.record(tenantId, stored.digest, stored.size);
      res.status(201).json({ digest: stored.digest, size: stored.size, imports: info.imports, exports: info.exports });
    } catch (err) {
      if (!(err instanceof SpindleError)) throw err;
      if (err.code === 'LIMIT_EXCEEDED') return fail(res, 413, err.code, err.message, { field: 'body', ...err.details });
      // An invalid module can never be registered, so nothing can reference its blob.
      await store.blobs.delete(stored.digest).catch((e: unknown) => logger.warn({ err: e }, 'could not delete an invalid module blob'));
      fail(res, 400, err.code, err.message, { field: 'body' });
    }
  };
}
