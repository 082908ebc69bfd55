/**
 * A TCP proxy a test can cut: it listens on a free port of 127.0.0.1 and pipes every connection to
 * `target` (PostgreSQL, say). `cut()` resets every open connection and resets new ones on accept,
 * as a dead link or a crashed server would look to the node; `restore()` lets connections through
 * again. The shared server behind it never notices anything but clients going away.
 *
 *   const proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
 *   … DATABASE_URL=postgresql://postgres@127.0.0.1:${proxy.port}/test …
 *   proxy.cut(); … proxy.restore(); … await proxy.close();
 */
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections accepted so far (those refused during a cut included). */
  accepted(): number;
  /** Resets every open connection; connections made until restore() are reset at once. */
  cut(): void;
  restore(): void;
  /** Resets everything and stops listening. */
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let down = false;
  let accepted = 0;

  const server = createServer((client) => {
    accepted++;
    if (down) return void client.resetAndDestroy();
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    // Either side failing ends both; a reset (not a FIN) is what a broken link looks like.
    const end = (err?: Error) => {
      for (const s of [client, upstream]) {
        open.delete(s);
        if (err) s.resetAndDestroy();
        else s.destroy();
      }
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', () => end());
    upstream.on('close', () => end());
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });

  const cutAll = () => {
    for (const s of open) if (!s.destroyed) s.resetAndDestroy();
    open.clear();
  };

  return {
    port: (server.address() as AddressInfo).port,
    accepted: () => accepted,
    cut() {
      down = true;
      cutAll();
    },
    restore() {
      down = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        down = true;
        cutAll();
        server.close(() => resolve());
      }),
  };
}
