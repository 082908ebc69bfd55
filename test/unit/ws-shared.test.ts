import { Repeater } from '@graphql-yoga/subscription';
import { GraphQLError, parse, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import { pushed } from '../../src/graphql/live.js';
import { makeSharedFeeds, SLOW_CLIENT_CLOSE, textFrames, type Wire } from '../../src/server/ws-shared.js';
import { waitFor } from '../helpers/wait.js';

/** The text messages in a run of unmasked server frames. */
function decode(buf: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < buf.length; ) {
    expect(buf[at]).toBe(0x81);
    let n = buf[at + 1]!;
    at += 2;
    if (n === 126) {
      n = buf.readUInt16BE(at);
      at += 2;
    } else if (n === 127) {
      n = Number(buf.readBigUInt64BE(at));
      at += 8;
    }
    out.push(buf.subarray(at, at + n).toString('utf8'));
    at += n;
  }
  return out;
}

function fakeWire(id: string, bufferedAmount = 0) {
  const messages: any[] = [];
  const writes: number[] = []; // messages per raw write
  const closes: { code: number; reason: string }[] = [];
  const wire: Wire & { socket: { bufferedAmount: number } } = {
    id,
    socket: {
      readyState: 1,
      bufferedAmount,
      extensions: '',
      send: (data: string) => void messages.push(JSON.parse(data)),
      close: (code: number, reason: string) => void closes.push({ code, reason }),
    },
    raw: {
      write: (buf: Buffer) => {
        const decoded = decode(buf).map((m) => JSON.parse(m));
        writes.push(decoded.length);
        messages.push(...decoded);
      },
    },
  };
  return { wire, messages, writes, closes };
}

/** A source of results to push by hand, counting how often it was subscribed and closed. */
function source() {
  const s = { subscribed: 0, returned: 0, push: null as ((r: ExecutionResult) => Promise<unknown>) | null, stop: null as ((err?: unknown) => void) | null };
  const subscribe = async (): Promise<AsyncIterable<ExecutionResult>> => {
    s.subscribed++;
    return new Repeater<ExecutionResult>(async (push, stop) => {
      // The first feed's: the one a test drives.
      s.push ??= push;
      s.stop ??= stop;
      await stop;
      s.returned++;
    });
  };
  return { s, subscribe };
}

/** The tests' events are their results already. */
const execute = (a: ExecutionArgs) => a.rootValue as ExecutionResult;
const args = { schema: null, document: parse('subscription { taskEvents { taskId } }') } as unknown as ExecutionArgs;
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('shared subscription feeds', () => {
  it('subscribes once per key and writes each result once encoded to every member, under its own id', async () => {
    const { s, subscribe } = source();
    const feeds = makeSharedFeeds({ source: subscribe, execute, format: (r) => r });
    const a = fakeWire('a');
    const b = fakeWire('b"2'); // an id that needs escaping
    const other = fakeWire('c');
    const streams = await Promise.all([feeds.join('k', args, a.wire), feeds.join('k', args, b.wire), feeds.join('other', args, other.wire)]);
    expect(s.subscribed).toBe(2);
    expect(feeds.size()).toBe(2);
    await waitFor('the feeds to listen', () => s.push !== null);
    await s.push!({ data: { n: 1 } });
    await s.push!({ data: { n: 2 } });
    await waitFor('both results written', () => a.messages.length === 2 && b.messages.length === 2);
    expect(a.messages).toEqual([1, 2].map((n) => ({ id: 'a', type: 'next', payload: { data: { n } } })));
    expect(b.messages).toEqual([1, 2].map((n) => ({ id: 'b"2', type: 'next', payload: { data: { n } } })));
    for (const st of streams) await (st as AsyncGenerator).return(undefined);
  });

  it('closes the feed when its last member leaves, and starts a new one for the next', async () => {
    const { s, subscribe } = source();
    const feeds = makeSharedFeeds({ source: subscribe, execute, format: (r) => r });
    const a = (await feeds.join('k', args, fakeWire('a').wire)) as AsyncGenerator;
    const b = (await feeds.join('k', args, fakeWire('b').wire)) as AsyncGenerator;
    const pending = a.next();
    await a.return(undefined);
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(feeds.size()).toBe(1);
    await b.return(undefined);
    expect(feeds.size()).toBe(0);
    await waitFor('the source to be closed', () => s.returned === 1);
    const c = (await feeds.join('k', args, fakeWire('c').wire)) as AsyncGenerator;
    expect(s.subscribed).toBe(2);
    await c.return(undefined);
  });

  it('writes every result before its members complete, and passes a failure on to each', async () => {
    const { s, subscribe } = source();
    const feeds = makeSharedFeeds({ source: subscribe, execute, format: (r) => r });
    const a = fakeWire('a');
    const stream = (await feeds.join('k', args, a.wire)) as AsyncGenerator;
    const ended = stream.next();
    await waitFor('the feed to listen', () => s.push !== null);
    void s.push!({ data: { n: 1 } });
    s.stop!();
    expect(await ended).toEqual({ done: true, value: undefined });
    expect(a.messages).toEqual([{ id: 'a', type: 'next', payload: { data: { n: 1 } } }]);

    const failing = source();
    const feeds2 = makeSharedFeeds({ source: failing.subscribe, execute, format: (r) => r });
    const x = (await feeds2.join('k', args, fakeWire('x').wire)) as AsyncGenerator;
    const y = (await feeds2.join('k', args, fakeWire('y').wire)) as AsyncGenerator;
    const [nx, ny] = [x.next(), y.next()];
    await waitFor('the feed to listen', () => failing.s.stop !== null);
    failing.s.stop!(new Error('boom'));
    await expect(nx).rejects.toThrow('boom');
    await expect(ny).rejects.toThrow('boom');
    expect(feeds2.size()).toBe(0);
  });

  it('answers every joiner with a failure to start (e.g. a bad filter), and keeps no feed', async () => {
    const refused: ExecutionResult = { errors: [new GraphQLError('filter.agent: no such agent')] };
    let calls = 0;
    const feeds = makeSharedFeeds({ source: async () => (calls++, refused), execute, format: (r) => r });
    const [a, b] = await Promise.all([feeds.join('k', args, fakeWire('a').wire), feeds.join('k', args, fakeWire('b').wire)]);
    expect(a).toBe(refused);
    expect(b).toBe(refused);
    expect(calls).toBe(1);
    expect(feeds.size()).toBe(0);
  });

  it('writes the formatted result (masked errors), encoded once', async () => {
    const { s, subscribe } = source();
    let formatted = 0;
    const feeds = makeSharedFeeds({ source: subscribe, execute, format: (r) => (formatted++, { ...r, errors: r.errors?.map(() => ({ message: 'Internal server error' })) }) });
    const wires = Array.from({ length: 5 }, (_, i) => fakeWire(String(i)));
    const streams = await Promise.all(wires.map((w) => feeds.join('k', args, w.wire)));
    await waitFor('the feed to listen', () => s.push !== null);
    await s.push!({ data: null, errors: [new GraphQLError('secret detail')] });
    await waitFor('every member written', () => wires.every((w) => w.messages.length === 1));
    expect(formatted).toBe(1);
    for (const w of wires) expect(w.messages[0].payload).toEqual({ data: null, errors: [{ message: 'Internal server error' }] });
    for (const st of streams) await (st as AsyncGenerator).return(undefined);
  });

  it('disconnects a client with more than slowClientBytes unsent, and only it', async () => {
    const { s, subscribe } = source();
    const feeds = makeSharedFeeds({ source: subscribe, execute, format: (r) => r, slowClientBytes: 1000 });
    const atLimit = fakeWire('a', 1000);
    const beyond = fakeWire('b', 1001);
    const streams = await Promise.all([feeds.join('k', args, atLimit.wire), feeds.join('k', args, beyond.wire)]);
    await waitFor('the feed to listen', () => s.push !== null);
    await s.push!({ data: { n: 1 } });
    await turn();
    await turn();
    expect(atLimit.messages).toHaveLength(1);
    expect(atLimit.closes).toEqual([]);
    expect(beyond.messages).toHaveLength(0);
    expect(beyond.closes).toEqual([{ code: SLOW_CLIENT_CLOSE, reason: 'SLOW_CLIENT' }]);
    for (const st of streams) await (st as AsyncGenerator).return(undefined);
  });
});

/** A pushing source (graphql/live.ts `pushed`) over a topic published by hand, in the caller's call. */
function pushSource() {
  const listeners = new Set<(batch: unknown[]) => void>();
  const listen = (fn: (batch: unknown[]) => void) => {
    listeners.add(fn);
    return () => void listeners.delete(fn);
  };
  return {
    source: async () => pushed(listen, () => true),
    publish: (batch: unknown[]) => listeners.forEach((fn) => fn(batch)),
    listeners: () => listeners.size,
  };
}
const result = (n: number): ExecutionResult => ({ data: { n } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('shared feeds over a pushing source', () => {
  it("writes a quiet feed's events at the end of the publisher's call, in one write per member; a busy feed's busyFlushMs later", async () => {
    const p = pushSource();
    // Wide windows, so a slow machine cannot turn "within" into "after".
    const quietMs = 300;
    const busyFlushMs = 100;
    const feeds = makeSharedFeeds({ source: p.source, execute, format: (r) => r, quietMs, busyFlushMs });
    const a = fakeWire('a');
    const b = fakeWire('b');
    const streams = await Promise.all([feeds.join('k', args, a.wire), feeds.join('k', args, b.wire)]);
    await waitFor('the feed to listen', () => p.listeners() === 1);
    let turnEnded = false;
    setImmediate(() => (turnEnded = true));
    p.publish([result(1), result(2), result(3)]);
    expect(a.messages).toEqual([]); // not one write per event
    await Promise.resolve();
    expect(turnEnded).toBe(false);
    for (const w of [a, b]) {
      expect(w.messages.map((m) => m.payload.data.n)).toEqual([1, 2, 3]);
      expect(w.writes).toEqual([3]);
    }
    // Within quietMs of that write: busyFlushMs later, with whatever else comes meanwhile.
    p.publish([result(4)]);
    await turn();
    p.publish([result(5)]);
    expect(a.messages).toHaveLength(3);
    await waitFor('the busy window written', () => a.messages.length === 5);
    expect(a.messages.map((m) => m.payload.data.n)).toEqual([1, 2, 3, 4, 5]);
    expect(a.writes).toEqual([3, 2]);
    // Quiet again: the end of the call.
    await sleep(quietMs + 20);
    p.publish([result(6)]);
    await Promise.resolve();
    expect(a.messages).toHaveLength(6);
    for (const st of streams) await (st as AsyncGenerator).return(undefined);
    expect(p.listeners()).toBe(0);
  });

  it('keeps the order of events whose execution finishes later than the next one', async () => {
    const p = pushSource();
    const slowly = (a: ExecutionArgs) => {
      const r = a.rootValue as ExecutionResult & { data: { n: number } };
      return r.data.n === 1 ? sleep(20).then(() => r) : r;
    };
    const feeds = makeSharedFeeds({ source: p.source, execute: slowly, format: (r) => r });
    const a = fakeWire('a');
    const stream = (await feeds.join('k', args, a.wire)) as AsyncGenerator;
    await waitFor('the feed to listen', () => p.listeners() === 1);
    p.publish([result(1), result(2)]);
    p.publish([result(3)]);
    expect(a.messages).toEqual([]);
    await waitFor('all three written', () => a.messages.length === 3);
    expect(a.messages.map((m) => m.payload.data.n)).toEqual([1, 2, 3]);
    await stream.return(undefined);
  });

  it('ends every member with the error when an event cannot be executed, and lets go of the source', async () => {
    const p = pushSource();
    const feeds = makeSharedFeeds({
      source: p.source,
      execute: () => {
        throw new Error('no schema');
      },
      format: (r) => r,
    });
    const x = (await feeds.join('k', args, fakeWire('x').wire)) as AsyncGenerator;
    const pending = x.next();
    await waitFor('the feed to listen', () => p.listeners() === 1);
    p.publish([result(1)]);
    await expect(pending).rejects.toThrow('no schema');
    expect(feeds.size()).toBe(0);
    await waitFor('the source let go', () => p.listeners() === 0);
  });
});

describe('textFrames', () => {
  it('frames each payload as one text message, at the 7-bit, 16-bit and 64-bit length boundaries', () => {
    const prefix = Buffer.from('[');
    const sizes = [0, 123, 124, 65_532, 65_533, 70_000]; // with "[" and "}": 2, 125, 126, 65535, 65536, 70002 bytes
    const payloads = sizes.map((n) => Buffer.from('x'.repeat(n)));
    const frames = textFrames(prefix, payloads);
    expect(decode(frames)).toEqual(sizes.map((n) => `[${'x'.repeat(n)}}`));
    expect(frames[1]).toBe(2);
    expect(frames.length).toBe(sizes.reduce((sum, n) => sum + n + 2 + (n + 2 < 126 ? 2 : n + 2 < 65_536 ? 4 : 10), 0));
  });
});
