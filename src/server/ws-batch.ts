/**
 * Many graphql-ws messages per write (see batchSends). Kept apart from the server wiring so the
 * behaviour can be tested with plain fakes.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/** Unflushed bytes on a WebSocket beyond which sends wait for the flush again (a slow client). */
export const BACKPRESSURE_BYTES = 1 << 20;

/**
 * Many events per write. graphql-ws sends a subscription's next message only once the previous
 * one's write callback fired, i.e. after it was flushed: a batch of task events left one per
 * event-loop turn, each in a syscall of its own (with one subscriber at 3k tasks/s, ~4k writev/s on
 * that socket alone). Here the callback fires as soon as the frame is queued, while the socket holds
 * less than BACKPRESSURE_BYTES unflushed (beyond that it waits for the flush, as before, so a slow
 * client still only slows itself), and the TCP socket is corked for the rest of the turn, so a
 * turn's frames leave in one writev. A write that fails after its callback fired closes the socket.
 */
export function batchSends(ws: Pick<WebSocket, 'send' | 'bufferedAmount' | 'terminate'>, raw: Pick<Socket, 'cork' | 'uncork'>): void {
  const send = ws.send.bind(ws) as (data: unknown, ...rest: unknown[]) => void;
  let corked = false;
  const uncork = () => {
    corked = false;
    raw.uncork();
  };
  ws.send = ((data: unknown, ...rest: unknown[]) => {
    if (!corked) {
      corked = true;
      raw.cork();
      setImmediate(uncork);
    }
    const done = typeof rest.at(-1) === 'function' ? (rest.pop() as (err?: Error) => void) : undefined;
    if (done && ws.bufferedAmount <= BACKPRESSURE_BYTES) {
      send(data, ...rest, (err?: Error) => err && ws.terminate());
      done();
    } else {
      send(data, ...rest, ...(done ? [done] : []));
    }
  }) as WebSocket['send'];
}
