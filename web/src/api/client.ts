// The dashboard's only door to Spindle: GraphQL over HTTP POST for queries and mutations,
// graphql-ws for subscriptions. Both carry the API key from localStorage.
import { createClient, type Client } from 'graphql-ws';
import { makeStore } from './store.js';

export type LinkState = 'connecting' | 'connected' | 'reconnecting' | 'offline';
export interface Connection {
  state: LinkState;
  /** Bumped on every (re)connect and key change: views re-query when it moves, so nothing is stale. */
  epoch: number;
  /** Bumped when the WebSocket client is replaced (new key): subscriptions re-subscribe. */
  generation: number;
  error?: string;
  /** The server refused the key (graphql-ws close 4401 Unauthorized / 4403 Forbidden). */
  authRefused?: boolean;
}

const KEY_STORAGE = 'spindle.apiKey';
export const connection = makeStore<Connection>({ state: 'connecting', epoch: 0, generation: 0 });

export class ApiError extends Error {
  constructor(message: string, readonly code?: string) {
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

export async function gql<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
  let res: Response;
  try {
    res = await fetch(httpUrl(), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...authHeaders() },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('Network error: the API is unreachable', 'NETWORK');
  }
  const body = (await res.json().catch(() => null)) as {
    data?: T;
    errors?: { message: string; extensions?: { code?: string } }[];
  } | null;
  if (body?.errors?.length) {
    const [first] = body.errors;
    throw new ApiError(first.message, first.extensions?.code);
  }
  if (!res.ok || !body?.data) throw new ApiError(`HTTP ${res.status} ${res.statusText}`, 'HTTP');
  return body.data;
}

/** POST /modules with the raw module bytes; answers the content digest for registerAgent. */
export async function uploadModule(bytes: ArrayBuffer): Promise<{ digest: string; size: number }> {
  const res = await fetch(new URL('modules', location.href), {
    method: 'POST',
    headers: { 'Content-Type': 'application/wasm', ...authHeaders() },
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

let clients = 0;
let ws: Client = makeWsClient();

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
        connection.update((c) => ({ ...c, state: 'connected', error: undefined, authRefused: false, epoch: c.epoch + 1 })),
      closed: (e) => {
        const close = e as CloseEvent | undefined;
        const refused = isRefusal(close);
        set({ state: refused ? 'offline' : 'reconnecting', error: close?.reason || undefined, authRefused: refused });
      },
    },
    // Only fatal closes end up here (retries are endless otherwise): a refused key, a server bug.
    onNonLazyError: (e) => {
      const close = e as CloseEvent | undefined;
      set({ state: 'offline', error: close?.reason || 'connection refused', authRefused: isRefusal(close) });
    },
  });
}

/** A fresh WebSocket client (after a fatal close, or for a new key); every view re-subscribes and re-queries. */
export function reconnect(): void {
  void ws.dispose();
  ws = makeWsClient();
  connection.update((c) => ({ ...c, state: 'connecting', generation: c.generation + 1, epoch: c.epoch + 1 }));
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
  query: string,
  variables: Record<string, unknown>,
  onData: (data: T) => void,
  onError: (e: ApiError) => void,
): () => void {
  return ws.subscribe<T>(
    { query, variables },
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
