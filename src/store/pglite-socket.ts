/**
 * PGlite as the socket of a node-postgres client, in this process: what the client writes (a
 * statement's Parse, Bind, Describe, Execute and Sync, written in one go) goes to PGlite's wire
 * protocol as one message at the end of the call that wrote it, and PGlite's answer comes back as
 * the bytes a server would send, parsed once, by the client's own parser (pg-protocol).
 *
 * PGlite's own adapter (`@electric-sql/pglite/node-postgres`) stands in for the client's connection
 * instead: it enters PGlite once per message, and PGlite parses every answer with its own parser,
 * which copies each field into an ArrayBuffer of its own, before the client converts the fields
 * again. `execProtocolRawStream` is the one entry that skips that parser. What it leaves out
 * (PGlite's LISTEN callbacks and its notice and error wrappers) the store does not use on this
 * client: notifications are in-process (notify.ts), and errors reach the client as ErrorResponse
 * messages, as from a server (docs/RATIONALE.md, "PGlite through a socket of its own").
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';

/** A node-postgres client's config for `db` through a PgliteSocket (add `types` and the like). */
export const pgliteClientConfig = (db: PGlite): pg.ClientConfig => ({
  stream: () => new PgliteSocket(db) as unknown as Socket,
  user: 'postgres',
  database: 'postgres',
});

/** The stream the client's Connection uses: these members, no more (pg 8's lib/connection.js and lib/client.js). */
export class PgliteSocket extends EventEmitter {
  writable = true;
  /** What the client wrote in this call, sent once it returns. */
  private pending: Buffer[] = [];
  /** The exchanges in order: each waits for the one before. */
  private last: Promise<void> = Promise.resolve();

  constructor(private readonly db: PGlite) {
    super();
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  /** Nothing to connect: PGlite answers the startup message itself. */
  connect(): this {
    queueMicrotask(() => this.emit('connect'));
    return this;
  }

  /** The client writes Buffers it does not touch again (pg-protocol's serializer makes a new one per message). */
  write(chunk: Buffer, callback?: (err?: Error | null) => void): boolean {
    if (!this.writable) {
      callback?.(new Error('the PGlite socket is closed'));
      return false;
    }
    if (this.pending.length === 0) queueMicrotask(this.send);
    this.pending.push(chunk);
    if (callback) queueMicrotask(() => callback());
    return true;
  }

  end(): this {
    this.close();
    return this;
  }

  destroy(err?: Error): this {
    this.close(err);
    return this;
  }

  private readonly send = (): void => {
    const message = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.last = this.last.then(async () => {
      if (!this.writable) return;
      // Each piece is a view of PGlite's memory, valid only during the call: copied.
      const pieces: Buffer[] = [];
      try {
        await this.db.execProtocolRawStream(message, { onRawData: (data) => void pieces.push(Buffer.from(data)) });
      } catch (err) {
        return this.close(err instanceof Error ? err : new Error(String(err)));
      }
      if (pieces.length > 0 && this.writable) this.emit('data', pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces));
    });
  };

  private close(err?: Error): void {
    if (!this.writable) return;
    this.writable = false;
    this.pending = [];
    // After the exchange under way, as a socket's end comes after the bytes before it.
    void this.last.then(() => {
      if (err) this.emit('error', err);
      this.emit('end');
      this.emit('close');
    });
  }
}
