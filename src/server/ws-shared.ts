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
import { isPushed, PUSH } from '../graphql/live.js';

/** Unsent bytes on a socket beyond which a shared subscription's client is disconnected. */
export const SLOW_CLIENT_BYTES = 16 * 1024 * 1024;
/** WebSocket close code "Try Again Later": graphql-ws clients reconnect. */
export const SLOW_CLIENT_CLOSE = 1013;
const OPEN = 1;
/** A feed that wrote nothing for this long writes its next events at the end of the call that delivered them. */
export const QUIET_MS = 1;
/**
 * A busy feed (it wrote within QUIET_MS) writes what came in this window in one go: with 100
 * subscribers, fewer writes cut server CPU per task by a quarter (bench fanout: 430–486 → 336–361 µs).
 */
export const BUSY_FLUSH_MS = 2;

/**
 * Where one subscription's messages go: its WebSocket, the TCP socket under it and its graphql-ws id.
 * Frames are written to the TCP socket directly, the pending frames for one subscription in one write
 * (ws's own sends go there too, in call order; without permessage-deflate, ws queues nothing).
 */
export interface Wire {
  socket: { send(data: string): void; close(code: number, reason: string): void; readonly bufferedAmount: number; readonly readyState: number; readonly extensions: string };
  raw: { write(data: Buffer): unknown };
  id: string;
}

export interface SharedFeedsOptions {
  /**
   * graphql's `createSourceEventStream`: run once per feed, with its first member's arguments. Each
   * event is then executed as graphql's `subscribe` would (`execute` with the event as root value),
   * without its promise per event: a source that takes a listener (PUSH, graphql/live.ts) hands
   * each event over in the publisher's own call, and an event whose fields resolve synchronously is
   * executed and encoded there.
   */
  source(args: ExecutionArgs): Promise<AsyncIterable<unknown> | ExecutionResult>;
  execute(args: ExecutionArgs): ExecutionResult | Promise<ExecutionResult>;
  /** What goes on the wire for a result (errors masked), as graphql-ws's onNext would give. */
  format(result: ExecutionResult): unknown;
  /** Unsent bytes past which a member's socket is closed (default SLOW_CLIENT_BYTES). */
  slowClientBytes?: number;
  /** QUIET_MS and BUSY_FLUSH_MS (tests). */
  quietMs?: number;
  busyFlushMs?: number;
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
  /** Payloads (JSON) not yet written: written together (see emit), a member's in one frame run. */
  unsent: Buffer[];
  /** When it last wrote (performance.now()): a quiet feed writes an event at once (see emit). */
  wroteAt: number;
  /** Results still being executed (a field resolved asynchronously): later ones wait behind them. */
  pending: Promise<void> | null;
  /** The source stream, once it started; its failure to start otherwise. */
  started: Promise<AsyncIterator<unknown> | ExecutionResult>;
  closed: boolean;
}

export function makeSharedFeeds(options: SharedFeedsOptions): SharedFeeds {
  const slowBytes = options.slowClientBytes ?? SLOW_CLIENT_BYTES;
  const quietMs = options.quietMs ?? QUIET_MS;
  const busyFlushMs = options.busyFlushMs ?? BUSY_FLUSH_MS;
  const feeds = new Map<string, Feed>();

  function open(key: string, args: ExecutionArgs): Feed {
    const feed: Feed = { members: new Set(), unsent: [], wroteAt: -Infinity, pending: null, started: null!, closed: false };
    feed.started = (async () => {
      const result = await options.source(args);
      return Symbol.asyncIterator in result ? result[Symbol.asyncIterator]() : result;
    })();
    feeds.set(key, feed);
    void feed.started.then(
      (stream) => {
        if (!('next' in stream)) retire(key, feed);
        else if (feed.closed) void stream.return?.();
        else if (isPushed(stream)) stream[PUSH]((event) => deliver(key, feed, args, event));
        else void pump(key, feed, args, stream);
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
    letGo(feed);
  }

  /** Returns the feed's source stream (it stops listening to the bus). */
  function letGo(feed: Feed) {
    void feed.started.then((s) => ('next' in s ? s.return?.() : undefined)).catch(() => {});
  }

  /** An event, executed now and written in order behind any whose execution is still pending. */
  function deliver(key: string, feed: Feed, args: ExecutionArgs, event: unknown) {
    if (feed.closed) return;
    let executed: ExecutionResult | Promise<ExecutionResult>;
    try {
      executed = options.execute({ ...args, rootValue: event });
    } catch (err) {
      return end(key, feed, { err });
    }
    if (feed.pending === null && !(executed instanceof Promise)) return emit(feed, executed);
    const waited = (feed.pending ?? Promise.resolve()).then(() => executed);
    const written: Promise<void> = waited.then(
      (result) => void (!feed.closed && emit(feed, result)),
      (err: unknown) => end(key, feed, { err }),
    );
    feed.pending = written;
    void written.then(() => {
      if (feed.pending === written) feed.pending = null;
    });
  }

  /** A source read as an async iterator: each event delivered as it comes, the end once they are written. */
  async function pump(key: string, feed: Feed, args: ExecutionArgs, stream: AsyncIterator<unknown>) {
    let failure: { err: unknown } | undefined;
    try {
      for (let next = await stream.next(); !next.done && !feed.closed; next = await stream.next()) deliver(key, feed, args, next.value);
    } catch (err) {
      failure = { err };
    }
    await feed.pending;
    end(key, feed, failure);
  }

  /** The feed is over: every `next` goes out before the `complete` (or error) graphql-ws sends once the members end. */
  function end(key: string, feed: Feed, failure?: { err: unknown }) {
    const wasOpen = !feed.closed;
    flush(feed);
    retire(key, feed);
    for (const m of feed.members) m.end(failure?.err);
    feed.members.clear();
    // A pushed source that failed is let go here (an async one has ended already).
    if (wasOpen && failure) letGo(feed);
  }

  /**
   * The one encoding of this event; each member's message only splices its id in front. Payloads
   * go out together, a member's in one write: for a feed quiet for QUIET_MS, at the end of the call
   * that delivered them (a microtask: a pushed source's publish), so a lone event (a submit on an
   * idle node) leaves before the rest of the turn's work, its submit's answer included, and a batch
   * published at once in one write; for a busy feed, BUSY_FLUSH_MS after the first, so a stream of
   * events costs each member a write per window rather than one per event-loop turn.
   */
  function emit(feed: Feed, result: ExecutionResult) {
    if (feed.unsent.length === 0) {
      if (performance.now() - feed.wroteAt > quietMs) queueMicrotask(() => flush(feed));
      else setTimeout(flush, busyFlushMs, feed);
    }
    feed.unsent.push(Buffer.from(JSON.stringify(options.format(result))));
  }

  function flush(feed: Feed) {
    const payloads = feed.unsent;
    if (payloads.length === 0) return;
    feed.unsent = [];
    feed.wroteAt = performance.now();
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
