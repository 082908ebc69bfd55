/**
 * Cross-node wake-up for the claim loop. On PostgreSQL: NOTIFY spindle_queued, heard on a
 * dedicated LISTEN connection that reconnects on error. On PGlite (one process): in-process
 * callbacks. Debouncing is the executor's job; a lost wake-up costs one slow-poll period.
 */
import pg from 'pg';

export const QUEUED_CHANNEL = 'spindle_queued';

export interface Notifier {
  notify(): Promise<void>;
  on(listener: () => void): () => void;
  close(): Promise<void>;
}

function makeListeners() {
  const listeners = new Set<() => void>();
  return {
    on(listener: () => void) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    fire() {
      for (const l of [...listeners]) {
        try {
          l();
        } catch {
          // A listener's failure is its own business; the others still hear the news.
        }
      }
    },
  };
}

export function makeLocalNotifier(): Notifier {
  const listeners = makeListeners();
  return {
    notify: async () => void setImmediate(listeners.fire),
    on: listeners.on,
    close: async () => {},
  };
}

/**
 * The payload carries the schema, so deployments (and test files) sharing one database in
 * separate schemas do not wake each other.
 */
export async function makePgNotifier(
  connection: pg.ClientConfig,
  pool: pg.Pool,
  schema: string,
  onError: (err: Error) => void,
): Promise<Notifier> {
  const listeners = makeListeners();
  let client: pg.Client | null = null;
  let closed = false;
  let retryMs = 250;
  let timer: NodeJS.Timeout | null = null;

  const connect = async () => {
    // Named, so operators (and the reconnect test) can tell this connection apart.
    const c = new pg.Client({ ...connection, application_name: `spindle-listen:${schema}`.slice(0, 63) });
    c.on('notification', (msg) => {
      if (msg.channel === QUEUED_CHANNEL && msg.payload === schema) listeners.fire();
    });
    c.on('error', (err) => {
      onError(err);
      reconnect(c);
    });
    c.on('end', () => reconnect(c));
    client = c;
    await c.connect();
    await c.query(`LISTEN ${QUEUED_CHANNEL}`);
    retryMs = 250;
  };

  const reconnect = (dead: pg.Client) => {
    if (closed || client !== dead || timer) return;
    client = null;
    dead.end().catch(() => {});
    timer = setTimeout(() => {
      timer = null;
      connect().catch((err: Error) => {
        onError(err);
        if (client) reconnect(client);
      });
      retryMs = Math.min(retryMs * 2, 5_000);
    }, retryMs);
    timer.unref();
  };

  try {
    await connect();
  } catch (err) {
    closed = true;
    // `client` is set inside connect(); TypeScript cannot see that.
    await (client as pg.Client | null)?.end().catch(() => {});
    throw err;
  }
  return {
    notify: async () => void (await pool.query('SELECT pg_notify($1, $2)', [QUEUED_CHANNEL, schema])),
    on: listeners.on,
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
