// WebSocket abuse against a real server, on the raw graphql-transport-ws protocol: every misuse is
// closed with the protocol's close code (graphql-ws CloseCode), floods are bounded, and the server
// keeps serving everyone else.
import { CloseCode } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sleep, waitFor } from '../helpers/wait.js';

let s: TestServer;
let refused = 0;
const MAX_SUBS = 20;

function rawWs(url: string, protocol = 'graphql-transport-ws') {
  const socket = new WebSocket(url, protocol);
  const messages: any[] = [];
  socket.on('message', (d) => {
    try {
      messages.push(JSON.parse(String(d)));
    } catch {
      messages.push(String(d));
    }
  });
  socket.on('error', () => {}); // a close follows; the code is what the tests look at
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const send = (m: unknown) => socket.send(typeof m === 'string' || m instanceof Uint8Array ? m : JSON.stringify(m));
  /** Resolves once `pred` holds over the messages received so far. */
  const until = (pred: (msgs: any[]) => boolean) =>
    waitFor(`messages where ${pred}`, () => pred(messages)).catch((err: Error) => {
      throw new Error(`${err.message}; messages: ${JSON.stringify(messages).slice(0, 500)}`);
    });
  return { socket, messages, closed, opened, send, until };
}

async function initialised() {
  const c = rawWs(s.wsUrl);
  await c.opened;
  c.send({ type: 'connection_init' });
  await c.until((m) => m.some((x) => x.type === 'connection_ack'));
  return c;
}

async function expectClose(c: ReturnType<typeof rawWs>, code: number) {
  expect((await c.closed).code).toBe(code);
  refused++;
}

beforeAll(async () => {
  s = await startTestServer({ WS_INIT_TIMEOUT_MS: '500', MAX_SUBSCRIPTIONS_PER_CONNECTION: String(MAX_SUBS) });
});

afterAll(async () => {
  console.log(`security-ws: ${refused} abusive connections or operations refused`);
  await s?.close();
});

describe('protocol abuse is closed with graphql-ws close codes', () => {
  it('no connection_init within WS_INIT_TIMEOUT_MS → 4408', async () => {
    const c = rawWs(s.wsUrl);
    await c.opened;
    await expectClose(c, CloseCode.ConnectionInitialisationTimeout);
  });

  it('subscribe before the connection is acknowledged → 4401', async () => {
    const c = rawWs(s.wsUrl);
    await c.opened;
    c.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { stats { at } }' } });
    await expectClose(c, CloseCode.Unauthorized);
  });

  it('a second connection_init → 4429', async () => {
    const c = await initialised();
    c.send({ type: 'connection_init' });
    await expectClose(c, CloseCode.TooManyInitialisationRequests);
  });

  it('a duplicate operation id → 4409', async () => {
    const c = await initialised();
    c.send({ id: 'same', type: 'subscribe', payload: { query: 'subscription { stats { at } }' } });
    c.send({ id: 'same', type: 'subscribe', payload: { query: 'subscription { stats { at } }' } });
    await expectClose(c, CloseCode.SubscriberAlreadyExists);
  });

  it('garbage, unknown message types and binary frames → 4400', async () => {
    for (const junk of ['not json', '{"type":"nope"}', '{"type":"subscribe"}', '{"id":1,"type":"subscribe","payload":{}}', '[]', new Uint8Array([0, 1, 2, 0xff])]) {
      const c = await initialised();
      c.send(junk);
      await expectClose(c, CloseCode.BadRequest);
    }
  });

  it('a wrong subprotocol → 4406', async () => {
    const c = rawWs(s.wsUrl, 'graphql-ws'); // the deprecated subscriptions-transport-ws protocol
    await c.opened.catch(() => {});
    expect([CloseCode.SubprotocolNotAcceptable, 1002, 1006]).toContain((await c.closed).code);
    refused++;
  });

  it('a message over the 1 MiB WebSocket limit → 1009 (message too big)', async () => {
    const c = await initialised();
    c.send({ id: 'big', type: 'subscribe', payload: { query: `subscription { stats { at } } # ${'x'.repeat(2 * 1024 * 1024)}` } });
    await expectClose(c, 1009);
  });
});

describe('floods are bounded', () => {
  it(`a subscription flood gets at most MAX_SUBSCRIPTIONS_PER_CONNECTION (${MAX_SUBS}) live operations`, async () => {
    const c = await initialised();
    for (let i = 0; i < 300; i++) c.send({ id: `s${i}`, type: 'subscribe', payload: { query: 'subscription { stats { at } }' } });
    await c.until((m) => m.filter((x) => x.type === 'error').length >= 300 - MAX_SUBS);
    const errors = c.messages.filter((x) => x.type === 'error');
    expect(errors.length).toBe(300 - MAX_SUBS);
    expect(errors[0].payload[0].extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', quota: 'MAX_SUBSCRIPTIONS_PER_CONNECTION', limit: String(MAX_SUBS) });
    refused += errors.length;
    // The live ones deliver; completing some frees room for others.
    await c.until((m) => new Set(m.filter((x) => x.type === 'next').map((x) => x.id)).size === MAX_SUBS);
    for (let i = 0; i < 5; i++) c.send({ id: `s${i}`, type: 'complete' });
    await sleep(200); // the server handles the completes (it answers none)
    c.send({ id: 'again', type: 'subscribe', payload: { query: 'subscription { stats { at } }' } });
    await c.until((m) => m.some((x) => x.id === 'again' && x.type === 'next'));
    c.socket.close();
  });

  it('a connection flood without init is shed by the init timeout; the server keeps serving', async () => {
    const flood = Array.from({ length: 100 }, () => rawWs(s.wsUrl));
    await Promise.all(flood.map((c) => c.opened.catch(() => {})));
    const codes = await Promise.all(flood.map((c) => c.closed.then((x) => x.code)));
    expect(codes.every((code) => code === CloseCode.ConnectionInitialisationTimeout)).toBe(true);
    refused += codes.length;
    expect((await s.gqlOk(`{ me { role } }`)).me.role).toBe('admin');
    const ok = await initialised();
    ok.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { stats { at } }' } });
    await ok.until((m) => m.some((x) => x.type === 'next'));
    ok.socket.close();
  });
});
