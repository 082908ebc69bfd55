import { describe, expect, it } from 'vitest';
import { BACKPRESSURE_BYTES, batchSends } from '../../src/server/ws-batch.js';

type Callback = (err?: Error) => void;

function fakes(bufferedAmount = 0) {
  const sent: { data: unknown; cb?: Callback }[] = [];
  const calls: string[] = [];
  const ws = {
    bufferedAmount,
    terminated: false,
    send(data: unknown, cb?: Callback) {
      sent.push({ data, cb });
    },
    terminate() {
      this.terminated = true;
    },
  };
  const raw = { cork: () => void calls.push('cork'), uncork: () => void calls.push('uncork') };
  batchSends(ws as never, raw as never);
  return { ws, raw, sent, calls };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('batchSends', () => {
  it('acknowledges each frame as soon as it is queued, and corks the socket for the rest of the turn', async () => {
    const { ws, sent, calls } = fakes();
    const acked: string[] = [];
    ws.send('a', () => acked.push('a'));
    ws.send('b', () => acked.push('b'));
    expect(acked).toEqual(['a', 'b']);
    expect(sent.map((s) => s.data)).toEqual(['a', 'b']);
    expect(calls).toEqual(['cork']);
    await nextTurn();
    expect(calls).toEqual(['cork', 'uncork']);
    ws.send('c', () => acked.push('c'));
    expect(calls).toEqual(['cork', 'uncork', 'cork']);
    await nextTurn();
    expect(calls).toEqual(['cork', 'uncork', 'cork', 'uncork']);
  });

  it('acknowledges at once with exactly BACKPRESSURE_BYTES unflushed, and waits for the flush beyond it', () => {
    const at = fakes(BACKPRESSURE_BYTES);
    let acked = false;
    at.ws.send('x', () => (acked = true));
    expect(acked).toBe(true);

    const beyond = fakes(BACKPRESSURE_BYTES + 1);
    acked = false;
    beyond.ws.send('y', () => (acked = true));
    expect(acked).toBe(false);
    beyond.sent[0]!.cb!(); // the frame was flushed
    expect(acked).toBe(true);
  });

  it('closes the socket when a write fails after it was acknowledged', () => {
    const { ws, sent } = fakes();
    ws.send('z', () => {});
    expect(ws.terminated).toBe(false);
    sent[0]!.cb!(new Error('EPIPE'));
    expect(ws.terminated).toBe(true);
  });

  it('passes sends without a callback straight through', () => {
    const { ws, sent } = fakes();
    ws.send('ping');
    expect(sent).toEqual([{ data: 'ping', cb: undefined }]);
  });
});
