import { describe, expect, it } from 'vitest';
import { isPushed, PUSH, pushed } from '../../src/graphql/live.js';

/** A topic by hand: `publish` calls its listeners in this call, as the bus does. */
function topic<T>() {
  const listeners = new Set<(batch: T[]) => void>();
  return {
    listen(fn: (batch: T[]) => void) {
      listeners.add(fn);
      return () => void listeners.delete(fn);
    },
    publish: (batch: T[]) => listeners.forEach((fn) => fn(batch)),
    listeners: () => listeners.size,
  };
}

describe('pushed', () => {
  it('listens from the call on, keeps what passes the filter, and is read in order', async () => {
    const t = topic<number>();
    const stream = pushed(t.listen, (n) => n % 2 === 0);
    expect(isPushed(stream)).toBe(true);
    t.publish([1, 2, 3, 4]);
    const waiting = stream.next(); // nothing queued after these two: waits for the next batch
    expect(await waiting).toEqual({ done: false, value: 2 });
    expect(await stream.next()).toEqual({ done: false, value: 4 });
    const later = stream.next();
    t.publish([5, 6]);
    expect(await later).toEqual({ done: false, value: 6 });
    await stream.return();
    expect(t.listeners()).toBe(0);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('hands values to a listener in the publisher call once PUSH is taken, the queued ones first', () => {
    const t = topic<string>();
    const stream = pushed(t.listen, () => true);
    t.publish(['a', 'b']);
    const got: string[] = [];
    stream[PUSH]((v) => got.push(v));
    expect(got).toEqual(['a', 'b']);
    t.publish(['c']);
    expect(got).toEqual(['a', 'b', 'c']); // no await in between: delivered in publish
  });

  it('holds queueMax unread values, and fails the reader past them rather than drop events', async () => {
    const t = topic<number>();
    const atLimit = pushed(t.listen, () => true, 3);
    t.publish([1, 2, 3]);
    const beyond = pushed(t.listen, () => true, 3);
    t.publish([4, 5, 6, 7]);
    // atLimit now holds 1, 2, 3 and was offered 4: past its limit.
    await expect(readAll(atLimit)).rejects.toThrow('subscription too slow: more than 3 events unread');
    // beyond held exactly 3 (4, 5, 6) and was offered a fourth (7): past its limit too, after them.
    expect(await beyond.next()).toEqual({ done: false, value: 4 });
    const within = pushed(t.listen, () => true, 3);
    t.publish([8, 9, 10]);
    expect(await Promise.all([within.next(), within.next(), within.next()])).toEqual([8, 9, 10].map((value) => ({ done: false, value })));
    await within.return();
    expect(t.listeners()).toBe(0); // the failed ones stopped listening themselves
  });
});

async function readAll<T>(stream: AsyncIterator<T>): Promise<T[]> {
  const out: T[] = [];
  for (let n = await stream.next(); !n.done; n = await stream.next()) out.push(n.value);
  return out;
}
