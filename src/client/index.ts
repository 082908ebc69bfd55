/**
 * The typed GraphQL client of Spindle, shared by the CLI, the dashboard and the benchmark: queries
 * and mutations over HTTP POST, subscriptions over graphql-ws, both with the API key. Documents
 * come from `graphql` (graphql.ts) and carry their result and variable types, so a caller cannot
 * ask for a field the schema lacks or pass a variable of the wrong type. Runs in Node 20 (fetch is
 * global; pass `webSocket: WebSocket` from `ws`) and in browsers. Imports nothing of the server.
 */
import { print } from '@0no-co/graphql.web';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import type { ResultOf, TadaDocumentNode, VariablesOf } from './graphql.js';

export { graphql, readFragment, type FragmentOf, type ResultOf, type TadaDocumentNode, type VariablesOf } from './graphql.js';

export interface ClientOptions {
  /** The server, e.g. http://localhost:4000 (GraphQL at /graphql, uploads at /modules). */
  url: string;
  /** An API key (`spd_…`), sent as `Authorization: Bearer`; none when the server runs with AUTH=off. */
  apiKey?: string;
  /** A WebSocket class for subscriptions: browsers have one, Node 20 takes `ws`'s. */
  webSocket?: unknown;
  fetch?: typeof fetch;
}

/** An answer that carries GraphQL errors, or no answer: the first error's message and code. */
export class ClientError extends Error {
  constructor(
    message: string,
    /** extensions.code (BAD_USER_INPUT, NOT_FOUND, UNAUTHENTICATED, …), or NETWORK / HTTP. */
    readonly code: string,
    /** The error's extensions (e.g. `field`, `limit`, a build's `diagnostics`). */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

export interface Sink<T> {
  next(data: T): void;
  error(err: ClientError): void;
  complete(): void;
}

/** `request(doc)` for documents without variables, `request(doc, vars)` for the rest. */
type VarArgs<D> = VariablesOf<D> extends Record<string, never> ? [variables?: VariablesOf<D>] : [variables: VariablesOf<D>];

export interface Client {
  request<D extends TadaDocumentNode<any, any>>(doc: D, ...variables: VarArgs<D>): Promise<ResultOf<D>>;
  /** Subscribes until the returned function is called or the server completes the stream. */
  subscribe<D extends TadaDocumentNode<any, any>>(doc: D, variables: VariablesOf<D>, sink: Sink<ResultOf<D>>): () => void;
  /** POST /modules with a module's bytes: the digest registerAgent takes as moduleDigest. */
  uploadModule(bytes: Uint8Array): Promise<{ digest: string; size: number }>;
  close(): Promise<void>;
}

interface GraphQLAnswer {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

const errorOf = (errors: NonNullable<GraphQLAnswer['errors']>): ClientError => {
  const [first] = errors;
  const ext = first?.extensions ?? {};
  return new ClientError(first?.message ?? 'unknown error', typeof ext.code === 'string' ? ext.code : 'GRAPHQL', ext);
};

/** Texts of the documents, printed once each. */
const texts = new WeakMap<object, string>();
/**
 * A document's text, as it goes in a request's `query` (for a transport of one's own, e.g. the
 * benchmark's or the dashboard's); a string (a query built at run time) is its own text.
 */
export const textOf = (doc: string | TadaDocumentNode<any, any, any>): string => {
  if (typeof doc === 'string') return doc;
  let text = texts.get(doc);
  if (text === undefined) texts.set(doc, (text = print(doc)));
  return text;
};

export function createClient(options: ClientOptions): Client {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const auth: Record<string, string> = options.apiKey ? { Authorization: `Bearer ${options.apiKey}` } : {};
  let ws: WsClient | null = null;

  async function post(path: string, init: RequestInit & { headers: Record<string, string> }): Promise<Response> {
    try {
      return await doFetch(`${base}${path}`, { ...init, headers: { ...init.headers, ...auth } });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ClientError(`cannot reach ${base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, 'NETWORK');
    }
  }

  function socket(): WsClient {
    return (ws ??= createWsClient({
      url: `${base.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: options.webSocket,
      connectionParams: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
      lazy: true,
      retryAttempts: 3,
    }));
  }

  return {
    async request(doc, ...[variables]) {
      const res = await post('/graphql', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ query: textOf(doc), variables }),
      });
      const body = (await res.json().catch(() => null)) as GraphQLAnswer | null;
      if (body?.errors?.length) throw errorOf(body.errors);
      if (!res.ok || !body?.data) throw new ClientError(`HTTP ${res.status} ${res.statusText}`, 'HTTP');
      return body.data as ResultOf<typeof doc>;
    },

    subscribe(doc, variables, sink) {
      return socket().subscribe(
        { query: textOf(doc), variables: variables as Record<string, unknown> },
        {
          next: (r) => {
            if (r.errors?.length) sink.error(errorOf(r.errors as GraphQLAnswer['errors'] & object));
            else if (r.data) sink.next(r.data as ResultOf<typeof doc>);
          },
          error: (e) => {
            const close = e as { code?: number; reason?: string };
            sink.error(e instanceof Error ? new ClientError(e.message, 'NETWORK') : new ClientError(close.reason || `connection closed (${close.code ?? 'no code'})`, close.code === 4401 || close.code === 4403 ? 'UNAUTHENTICATED' : 'NETWORK'));
          },
          complete: () => sink.complete(),
        },
      );
    },

    async uploadModule(bytes) {
      const res = await post('/modules', { method: 'POST', headers: { 'Content-Type': 'application/wasm' }, body: bytes as Uint8Array<ArrayBuffer> });
      const body = (await res.json().catch(() => null)) as { digest?: string; size?: number; error?: { code: string; message: string } & Record<string, unknown> } | null;
      if (body?.error) throw new ClientError(body.error.message, body.error.code, body.error);
      if (!res.ok || !body?.digest) throw new ClientError(`upload failed: HTTP ${res.status} ${res.statusText}`, 'HTTP');
      return { digest: body.digest, size: body.size ?? bytes.length };
    },

    async close() {
      const client = ws;
      ws = null;
      await client?.dispose();
    },
  };
}
