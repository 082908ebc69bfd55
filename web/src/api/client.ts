// The dashboard's only door to Spindle: GraphQL over HTTP POST for queries and mutations,
// graphql-ws for subscriptions. Both carry the API key from localStorage.
import { createClient, type Client } from 'graphql-ws';
import { textOf, type TadaDocumentNode } from '../../../src/client/index.js';
import { makeStore } from './store.js';

export type LinkState = 'connecting' | 'connected' | 'reconnecting' | 'offline';
export interface Connection {
  state: LinkState;
  /** Bumped on every (re)connect and key change: views re-query when it moves, so nothing is stale. */
  epoch: number;
  /** Bumped when the WebSocket client is replaced (new key): subscriptions re-subscribe. */
  generation: number;
  error?: string;
  /**
   * The server refused the key (graphql-ws close 4401 Unauthorized / 4403 Forbidden, HTTP 401).
   * Sticky: nothing is sent and no socket opened until the user saves a key or presses Reconnect.
   */
  authRefused?: boolean;
  /** When a live connection was lost (ms since the epoch): what is on screen is as of then. Cleared on reconnect. */
  lostAt?: number;
}

const KEY_STORAGE = 'spindle.apiKey';
export const connection = makeStore<Connection>({ state: 'connecting', epoch: 0, generation: 0 });

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    /** The error's GraphQL extensions (a build's `diagnostics` and `log`, a `field`, …). */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export function apiKey(): string {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

// Relative to the page, so the dashboard also works behind a path prefix.
const httpUrl = () => new URL('graphql', location.href).href;
const wsUrl = () => httpUrl().replace(/^http/, 'ws');

/**
 * fetch with the API key. Nothing goes out while the key is refused; a 401 refuses it (unless the
 * key changed while the request was in flight: then the answer is about a key we no longer use).
 */
async function send(url: string, init: RequestInit & { headers: Record<string, string> }): Promise<Response> {
  const { authRefused, generation } = connection.get();
  if (authRefused) throw refusedError();
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers: { ...init.headers, ...authHeaders() } });
  } catch {
    throw new ApiError('Network error: the API is unreachable', 'NETWORK');
  }
  if (res.status === 401 && connection.get().generation === generation) refuse('HTTP 401 Unauthorized');
  return res;
}

/** A document of the typed client (web/src/api/queries.ts), or a query built at run time. */
export type Query = string | TadaDocumentNode<any, any>;

export async function gql<T>(query: Query, variables?: Record<string, unknown>): Promise<T> {
  const res = await send(httpUrl(), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ query: textOf(query), variables }),
  });
  const body = (await res.json().catch(() => null)) as {
    data?: T;
    errors?: { message: string; extensions?: { code?: string } & Record<string, unknown> }[];
  } | null;
  if (body?.errors?.length) {
    const [first] = body.errors;
    throw new ApiError(first.message, first.extensions?.code, first.extensions ?? {});
  }
  if (!res.ok || !body?.data) throw new ApiError(`HTTP ${res.status} ${res.statusText}`, 'HTTP');
  return body.data;
}

/** POST /modules with the raw module bytes; answers the content digest for registerAgent. */
export async function uploadModule(bytes: ArrayBuffer): Promise<{ digest: string; size: number }> {
  const res = await send(new URL('modules', location.href).href, {
    method: 'POST',
    headers: { 'Content-Type': 'application/wasm' },
    body: bytes,
  });
  const body = (await res.json().catch(() => null)) as
    | { digest: string; size: number; error?: string; message?: string }
    | null;
  if (!res.ok || !body?.digest) {
    throw new ApiError(body?.message ?? body?.error ?? `Upload failed: HTTP ${res.status}`, 'UPLOAD');
  }
  return body;
}

/** graphql-ws close codes 4401 Unauthorized and 4403 Forbidden: the key was refused. */
const isRefusal = (close: CloseEvent | undefined) => [4401, 4403].includes(close?.code ?? 0);

const refusedError = () => new ApiError('API key refused: enter a valid key, or press Reconnect', 'UNAUTHENTICATED');

// While the key is refused there is no WebSocket client at all. graphql-ws opens a new socket for
// any new subscription, even after a fatal close: a page that subscribes (a navigation is enough)
// would try again by itself and could hide "API key refused" without the user doing anything.
// Only reconnect() (the Reconnect button, a saved key) makes a client again.
let clients = 0;
let ws: Client | null = makeWsClient();

function makeWsClient(): Client {
  // A replaced client still reports its own close: only the current one may set the state.
  const mine = ++clients;
  const set = (patch: Partial<Connection>) => mine === clients && connection.update((c) => ({ ...c, ...patch }));
  return createClient({
    url: wsUrl(),
    lazy: false,
    keepAlive: 10_000,
    retryAttempts: Infinity,
    // Retry through anything (server restarts, lost networks) except a refused key: asking again
    // with the same key will not help, so the header says so and waits for a new key or a click.
    shouldRetry: (e) => !isRefusal(e as CloseEvent | undefined),
    // Capped exponential backoff with jitter: quick first retry, never more than ~5 s apart.
    retryWait: (n) => new Promise((r) => setTimeout(r, Math.min(250 * 2 ** n, 5000) * (0.5 + Math.random() / 2))),
    connectionParams: () => {
      const key = apiKey();
      return key ? { authorization: `Bearer ${key}` } : {};
    },
    on: {
      connecting: (wasRetry) => set({ state: wasRetry ? 'reconnecting' : 'connecting' }),
      connected: () =>
        mine === clients &&
        connection.update((c) => ({ ...c, state: 'connected', error: undefined, authRefused: false, lostAt: undefined, epoch: c.epoch + 1 })),
      closed: (e) => {
        const close = e as CloseEvent | undefined;
        if (mine !== clients) return;
        if (isRefusal(close)) refuse(close?.reason);
        else connection.update((c) => ({ ...c, state: 'reconnecting', error: close?.reason || undefined, lostAt: c.lostAt ?? (c.state === 'connected' ? Date.now() : undefined) }));
      },
    },
    // Only fatal closes end up here (retries are endless otherwise): a server bug, a protocol error.
    onNonLazyError: (e) => {
      const close = e as CloseEvent | undefined;
      if (mine !== clients) return;
      if (isRefusal(close)) refuse(close?.reason);
      else set({ state: 'offline', error: close?.reason || 'connection refused' });
    },
  });
}

/** The key was refused: drop the client and stay offline until the user acts (reconnect()). */
function refuse(reason: string | undefined): void {
  const old = ws;
  ws = null;
  clients++; // the old client's late events no longer count
  connection.update((c) => ({ ...c, state: 'offline', error: reason || 'API key refused', authRefused: true }));
  drop(old);
}

// dispose() waits for a socket still connecting and rejects when that one is refused: nothing to do then.
const drop = (client: Client | null) => void Promise.resolve(client?.dispose()).catch(() => {});

/** A fresh WebSocket client (after a fatal close, or for a new key); every view re-subscribes and re-queries. */
export function reconnect(): void {
  drop(ws);
  ws = makeWsClient();
  connection.update((c) => ({
    ...c,
    state: 'connecting',
    error: undefined,
    authRefused: false,
    generation: c.generation + 1,
    epoch: c.epoch + 1,
  }));
}

export function setApiKey(key: string): void {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Private mode without storage: the key lives for this page only.
  }
  reconnect();
}

/** Subscribes until the returned function is called; the ws client re-subscribes after reconnects. */
export function subscribe<T>(
  query: Query,
  variables: Record<string, unknown>,
  onData: (data: T) => void,
  onError: (e: ApiError) => void,
): () => void {
  if (!ws) {
    // Refused key: no socket until the user acts; reconnect() bumps `generation`, so views subscribe again.
    onError(refusedError());
    return () => {};
  }
  return ws.subscribe<T>(
    { query: textOf(query), variables },
    {
      next: (r) => {
        if (r.errors?.length) onError(new ApiError(r.errors[0].message, r.errors[0].extensions?.code as string));
        if (r.data) onData(r.data as T);
      },
      error: (e) => onError(new ApiError(e instanceof Error ? e.message : (e as CloseEvent)?.reason || 'subscription failed')),
      complete: () => {},
    },
  );
}
