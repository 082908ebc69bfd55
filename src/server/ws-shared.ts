/**
 * Subscriptions that cost once, not once per subscriber. graphql-ws runs `subscribe` for each
 * subscription, then for each event `execute` (every field resolved), onNext and a JSON.stringify of
 * the whole message: with 100 open `taskEvents` dashboards, every task event was resolved and
 * encoded 100 times. Here the subscriptions of one key (graphql.ts: the same tenant, role, document,
 * operation and variables — nothing else decides what they receive) share one feed: one bus
 * subscription, one execution and one JSON encoding per event, and per subscriber only the splice
 * of its id into the message and the write to its socket.
 *
 * graphql-ws still owns each subscription: it gets a stream that yields nothing and ends (complete)
 * or fails (error) with the feed, and is returned (client `complete`, socket closed) to leave the
 * feed; the last one to leave closes it. The feed writes the `next` messages itself, in order, before
 * it ends its members' streams, so `complete` still comes last.
 *
 * A subscriber cannot slow the others down: its messages are queued on its socket without waiting;
 * one that lets more than SLOW_CLIENT_BYTES pile up unsent is disconnected (1013, SLOW_CLIENT: a
 * graphql-ws client reconnects) rather than silently missing events.
 */
import type { ExecutionArgs, ExecutionResult } from 'graphql';

/** Unsent bytes on a socket beyond which a shared subscription's client is disconnected. */
export const SLOW_CLIENT_BYTES = 16 * 1024 * 1024;
/** WebSocket close code "Try Again Later": graphql-ws clients reconnect. */
export const SLOW_CLIENT_CLOSE = 1013;
const OPEN = 1;

/**
 * Where one subscription's messages go: its WebSocket, the TCP socket under it and its graphql-ws id.
 * Frames are written to the TCP socket directly, a turn's frames for one subscription in one write
 * (ws's own sends go there too, in call order; without permessage-deflate, ws queues nothing).
 */
export interface Wire {
  socket: { send(data: string): void; close(code: number, reason: string): void; readonly bufferedAmount: number; readonly readyState: number; readonly extensions: string };
  raw: { write(data: Buffer): unknown };
  id: string;
}

export interface SharedFeedsOptions {
  /** graphql's `subscribe` (or a wrapper of it): run once per feed, with its first member's arguments. */
  subscribe(args: ExecutionArgs): Promise<AsyncIterable<ExecutionResult> | ExecutionResult>;
  /** What goes on the wire for a result (errors masked), as graphql-ws's onNext would give. */
  format(result: ExecutionResult): unknown;
  /** Unsent bytes past which a member's socket is closed (default SLOW_CLIENT_BYTES). */
  slowClientBytes?: number;
}

export interface SharedFeeds {
  /**
   * The subscription `wire` as a member of the feed `key` (started with `args` if there is none):
   * the stream to hand graphql-ws, or the feed's failure to start (e.g. a bad filter) as a result.
   */
  join(key: string, args: ExecutionArgs, wire: Wire): Promise<AsyncGenerator<never, void, unknown> | ExecutionResult>;
  /** Feeds open now (tests). */
  size(): number;
}

interface Member {
  wire: Wire;
  /** `{"id":…,"type":"next","payload":` for this member. */
  prefix: Buffer;
  end(err?: unknown): void;
}

interface Feed {
  members: Set<Member>;
  /** Payloads (JSON) of this turn not yet written: written at its end, a member's in one frame run. */
  unsent: Buffer[];
  /** The stream, once `subscribe` answered with one; its failure to start otherwise. */
  started: Promise<AsyncIterator<ExecutionResult> | ExecutionResult>;
  closed: boolean;
}

export function makeSharedFeeds(options: SharedFeedsOptions): SharedFeeds {
  const slowBytes = options.slowClientBytes ?? SLOW_CLIENT_BYTES;
  const feeds = new Map<string, Feed>();

  function open(key: string, args: ExecutionArgs): Feed {
    const feed: Feed = { members: new Set(), unsent: [], started: null!, closed: false };
    feed.started = (async () => {
      const result = await options.subscribe(args);
      return Symbol.asyncIterator in result ? result[Symbol.asyncIterator]() : result;
    })();
    feeds.set(key, feed);
    void feed.started.then(
      (stream) => {
        if (!('next' in stream)) retire(key, feed);
        else if (feed.closed) void stream.return?.();
        else void pump(key, feed, stream);
      },
      () => retire(key, feed),
    );
    return feed;
  }

  /** No one joins `feed` any more (it ended, failed, or its last member left). */
  function retire(key: string, feed: Feed) {
    feed.closed = true;
    if (feeds.get(key) === feed) feeds.delete(key);
  }

  /** The last member left: the feed lets go of the bus at once, not at its next event. */
  function abandon(key: string, feed: Feed) {
    retire(key, feed);
    void feed.started.then((s) => ('next' in s ? s.return?.() : undefined)).catch(() => {});
  }

  async function pump(key: string, feed: Feed, stream: AsyncIterator<ExecutionResult>) {
    let failure: { err: unknown } | undefined;
    try {
      for (let next = await stream.next(); !next.done && !feed.closed; next = await stream.next()) {
        // The one encoding of this event; each member's message only splices its id in front.
        if (feed.unsent.length === 0) setImmediate(flush, feed);
        feed.unsent.push(Buffer.from(JSON.stringify(options.format(next.value))));
      }
    } catch (err) {
      failure = { err };
    }
    // Every `next` before the `complete` (or error) graphql-ws sends once the members end.
    flush(feed);
    retire(key, feed);
    for (const m of feed.members) m.end(failure?.err);
    feed.members.clear();
  }

  function flush(feed: Feed) {
    const payloads = feed.unsent;
    if (payloads.length === 0) return;
    feed.unsent = [];
    for (const m of feed.members) send(m, payloads);
  }

  function send(m: Member, payloads: Buffer[]) {
    const { socket, raw } = m.wire;
    if (socket.readyState !== OPEN) return;
    if (socket.bufferedAmount > slowBytes) return socket.close(SLOW_CLIENT_CLOSE, 'SLOW_CLIENT');
    // A negotiated extension (compression) would need ws's own framing.
    if (socket.extensions !== '') {
      for (const p of payloads) socket.send(`${m.prefix.toString()}${p.toString()}}`);
      return;
    }
    raw.write(textFrames(m.prefix, payloads));
  }

  return {
    async join(key, args, wire) {
      let feed = feeds.get(key);
      if (!feed) feed = open(key, args);
      const joined = feed;
      const { member, stream } = memberStream(wire, (m) => {
        if (joined.members.delete(m) && joined.members.size === 0 && !joined.closed) abandon(key, joined);
      });
      joined.members.add(member);
      let started;
      try {
        started = await joined.started;
      } catch (err) {
        joined.members.delete(member);
        throw err;
      }
      if ('next' in started) return stream;
      joined.members.delete(member);
      return started;
    },
    size: () => feeds.size,
  };
}

/** A member and the stream graphql-ws iterates for it: nothing until `end`, then done (or the error). */
function memberStream(wire: Wire, leave: (m: Member) => void): { member: Member; stream: AsyncGenerator<never, void, unknown> } {
  let settle: ((r: IteratorResult<never, void>) => void) | null = null;
  let fail: ((err: unknown) => void) | null = null;
  let ended: { err?: unknown } | null = null;
  let left = false;
  const member: Member = {
    wire,
    prefix: Buffer.from(`{"id":${JSON.stringify(wire.id)},"type":"next","payload":`),
    end(err) {
      if (ended) return;
      ended = { err };
      if (err !== undefined) fail?.(err);
      else settle?.({ done: true, value: undefined });
    },
  };
  const done = async (): Promise<IteratorResult<never, void>> => {
    if (!left) {
      left = true;
      leave(member);
    }
    member.end();
    return { done: true, value: undefined };
  };
  const stream: AsyncGenerator<never, void, unknown> = {
    next: () =>
      new Promise((resolve, reject) => {
        if (ended) return ended.err !== undefined ? reject(ended.err) : resolve({ done: true, value: undefined });
        settle = resolve;
        fail = reject;
      }),
    return: done,
    throw: async (err: unknown) => {
      await done();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return { member, stream };
}

const CLOSE_BRACE = 0x7d;

/**
 * Unmasked, final text frames (RFC 6455 §5.2; a server never masks), one per payload, each holding
 * `prefix + payload + "}"`, in one buffer.
 */
export function textFrames(prefix: Buffer, payloads: Buffer[]): Buffer {
  let size = 0;
  for (const p of payloads) {
    const n = prefix.length + p.length + 1;
    size += n + (n < 126 ? 2 : n < 65536 ? 4 : 10);
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const p of payloads) {
    const n = prefix.length + p.length + 1;
    out[at++] = 0x81; // FIN, opcode 1 (text)
    if (n < 126) out[at++] = n;
    else if (n < 65536) {
      out[at++] = 126;
      out.writeUInt16BE(n, at);
      at += 2;
    } else {
      out[at++] = 127;
      out.writeBigUInt64BE(BigInt(n), at);
      at += 8;
    }
    at += prefix.copy(out, at);
    at += p.copy(out, at);
    out[at++] = CLOSE_BRACE;
  }
  return out;
}
