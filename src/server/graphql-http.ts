/**
 * POST /graphql straight on node:http, without Express, for the requests every client sends: a JSON
 * body of a declared length within MAX_REQUEST_BYTES, from a caller the authenticator accepts. On a
 * 2-core node Express's router, body-parser and the Apollo integration cost ~150 µs of CPU per
 * request, as much again as Apollo's own handling (`{ __typename }`: 124-138 µs bare, 272-306 µs
 * through Express); a one-task submit paid it on every call.
 *
 * What it does is what the Express chain does (index.ts, graphql.ts): request id, the request log
 * line and the HTTP metric; authentication before the body is read (a refusal answered the same
 * way, graphql.ts authRefusal); the nesting guard; Apollo. Anything else (another method or path,
 * another content type, a compressed or chunked body, one over the limit, traces on) is left to
 * Express, which answers it as before: the choice is made from the request line and headers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { SpindleError, type Principal } from '../domain/index.js';
import type { Context } from '../graphql/context.js';
import { checkNesting } from '../graphql/cost.js';
import { INTERNAL_MESSAGE } from '../graphql/errors.js';
import type { Authenticator } from '../services/index.js';
import { RETRY_AFTER_SECONDS } from '../services/failures.js';
import { requestLogger, type Logger } from './logger.js';
import { logRequestEnd, REQUEST_ID_HEADER, requestIdOf } from './request-log.js';

export interface GraphQLHttpDeps {
  apollo: ApolloServer<Context>;
  authenticator: Authenticator;
  context(principal: Principal, requestId: string): Promise<Context>;
  path: string;
  maxRequestBytes: number;
  maxNesting: number;
  maxTokens: number;
  logger: Logger;
  /** The HTTP duration metric (metrics.ts), as the Express chain records it. */
  observeHttp(path: string, method: string, status: number, startedAt: number): void;
}

/** What body-parser's `application/json` parser takes, in UTF-8 (its default charset). */
const JSON_TYPE = /^application\/json\s*(?:;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/** A request handler that takes the plain POST /graphql requests and answers false for the rest. */
export function graphqlHttp(deps: GraphQLHttpDeps) {
  const { apollo, authenticator, logger } = deps;

  function takes(req: IncomingMessage, path: string): boolean {
    if (req.method !== 'POST' || path !== deps.path) return false;
    const h = req.headers;
    if (typeof h['content-type'] !== 'string' || !JSON_TYPE.test(h['content-type'])) return false;
    if (h['content-encoding'] !== undefined && h['content-encoding'].toLowerCase() !== 'identity') return false;
    if (h['transfer-encoding'] !== undefined) return false;
    const length = Number(h['content-length']);
    return Number.isInteger(length) && length > 0 && length <= deps.maxRequestBytes;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string, search: string) {
    const start = performance.now();
    res.setHeader(REQUEST_ID_HEADER, requestId);
    res.once('finish', () => {
      logRequestEnd(logger, requestId, req.method!, deps.path, res.statusCode, start);
      deps.observeHttp(deps.path, req.method!, res.statusCode, start);
    });
    let principal: Principal;
    try {
      principal = await authenticator.authenticate(req.headers);
    } catch (err) {
      if (!(err instanceof SpindleError)) return fail(req, res, requestId, err);
      const { status, headers, body } = authRefusal(err);
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      sendJson(res, status, body);
      req.resume();
      return;
    }
    try {
      const text = await readBody(req);
      let body: unknown;
      try {
        body = parseStrict(text);
      } catch (err) {
        return sendJson(res, 400, badBody((err as Error).message));
      }
      const query = (body as { query?: unknown } | null)?.query;
      if (typeof query === 'string') {
        try {
          checkNesting(query, deps.maxNesting, deps.maxTokens);
        } catch (err) {
          if (!(err instanceof GraphQLError)) throw err;
          return sendJson(res, 400, { errors: [{ message: err.message, extensions: err.extensions }] });
        }
      }
      const headers = new HeaderMap();
      for (const [key, value] of Object.entries(req.headers)) if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
      const answer = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: 'POST', headers, search, body },
        context: () => deps.context(principal, requestId),
      });
      for (const [key, value] of answer.headers) res.setHeader(key, value);
      res.statusCode = answer.status ?? 200;
      if (answer.body.kind === 'complete') {
        res.setHeader('content-length', Buffer.byteLength(answer.body.string));
        res.end(answer.body.string);
        return;
      }
      for await (const chunk of answer.body.asyncIterator) res.write(chunk);
      res.end();
    } catch (err) {
      fail(req, res, requestId, err);
    }
  }

  /** As the Express chain's error handler: logged, and masked as a 500. */
  function fail(req: IncomingMessage, res: ServerResponse, requestId: string, err: unknown) {
    const body = unexpectedError(requestLogger(logger, requestId), err, req.method, req.url);
    if (res.headersSent) return void res.end();
    sendJson(res, 500, body);
  }

  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const [path, search] = splitUrl(req.url);
    if (!takes(req, path)) return false;
    void handle(req, res, requestIdOf(req), search);
    return true;
  };
}

/** A body that is not the JSON asked for: 400, the same from Express's error handler (index.ts). */
export function badBody(message: string) {
  return { errors: [{ message: `bad request body: ${message}`, extensions: { code: 'BAD_REQUEST' } }] };
}

/** An error nobody handled: logged with the request, answered as a masked 500 (also index.ts). */
export function unexpectedError(logger: Logger, err: unknown, method: string | undefined, url: string | undefined) {
  logger.error({ err, method, url }, 'unexpected error in an HTTP handler');
  return { error: { code: 'INTERNAL_SERVER_ERROR', message: INTERNAL_MESSAGE } };
}

/**
 * The answer to a caller the authenticator did not let in: UNAUTHENTICATED (401), or the key
 * could not be looked up (UNAVAILABLE, STATEMENT_TIMEOUT: 503, retry). The connection closes, so
 * a body we will not use is not read.
 */
export function authRefusal(err: SpindleError): { status: number; headers: Record<string, string>; body: unknown } {
  const refused = err.code === 'UNAUTHENTICATED';
  return {
    status: refused ? 401 : 503,
    headers: { ...(refused ? { 'WWW-Authenticate': 'Bearer realm="spindle"' } : { 'Retry-After': String(RETRY_AFTER_SECONDS) }), Connection: 'close' },
    body: { errors: [{ message: err.message, extensions: { ...err.details, code: err.code } }] },
  };
}

/** A request URL's path and its query string ('?…', or '' when it has none). */
function splitUrl(url = ''): [path: string, search: string] {
  const q = url.indexOf('?');
  return q < 0 ? [url, ''] : [url.slice(0, q), url.slice(q)];
}

/** The body, whose length the parser holds to its Content-Length. */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

/**
 * JSON.parse of an object or array only, as body-parser's strict mode, with its message for any
 * other value: JSON.parse's own for the text with that value masked, the value put back.
 */
function parseStrict(text: string): unknown {
  const first = /^[\x20\x09\x0a\x0d]*(.)/.exec(text)?.[1];
  if (first !== undefined && first !== '{' && first !== '[') {
    const at = text.indexOf(first);
    try {
      JSON.parse(text.slice(0, at) + '#'.repeat(text.length - at));
    } catch (err) {
      throw new SyntaxError((err as Error).message.replace(/#+/g, (mask) => text.slice(at, at + mask.length)));
    }
  }
  return JSON.parse(text);
}

function sendJson(res: ServerResponse, status: number, value: unknown) {
  const text = JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}
