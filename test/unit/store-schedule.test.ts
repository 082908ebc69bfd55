// Who gets the database next (src/store/schedule.ts) and how much of it one API request may hold
// (src/store/per-request.ts).
import { describe, expect, it } from 'vitest';
import { forRequest, READS_PER_REQUEST } from '../../src/store/per-request.js';
import { FIRST_IN_A_ROW, makeLimit, makeScheduler, type Release } from '../../src/store/schedule.js';
import type { Store, TaskRepository } from '../../src/store/types.js';

/** Records the order in which acquisitions are granted. */
function recorder() {
  const order: string[] = [];
  const held = new Map<string, Release>();
  return {
    order,
    take(label: string, acquire: () => Promise<Release>) {
      void acquire().then((release) => {
        order.push(label);
        held.set(label, release);
      });
    },
    release(label: string) {
      held.get(label)!();
      held.delete(label);
    },
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('the connection scheduler', () => {
  it("serves the executor's lane before waiting API statements, each lane in order", async () => {
    const s = makeScheduler({ slots: 1 });
    const r = recorder();
    r.take('busy', () => s.acquire());
    ['a1', 'a2', 'b1'].forEach((l) => r.take(l, () => s.acquire()));
    r.take('e1', () => s.acquire(true));
    r.take('e2', () => s.acquire(true));
    await settle();
    expect(r.order).toEqual(['busy']);
    for (const label of ['busy', 'e1', 'e2', 'a1', 'a2']) {
      r.release(label);
      await settle();
    }
    expect(r.order).toEqual(['busy', 'e1', 'e2', 'a1', 'a2', 'b1']);
    expect(s.waiting()).toBe(0);
  });

  it('lets an API statement through after a run of executor statements', async () => {
    const s = makeScheduler({ slots: 1 });
    const r = recorder();
    r.take('e0', () => s.acquire(true));
    r.take('api', () => s.acquire());
    for (let i = 1; i <= FIRST_IN_A_ROW + 1; i++) r.take(`e${i}`, () => s.acquire(true));
    await settle();
    for (let i = 0; i <= FIRST_IN_A_ROW; i++) {
      r.release(r.order.at(-1)!);
      await settle();
    }
    // The API statement went after FIRST_IN_A_ROW executor statements in a row, not after all of them.
    expect(r.order.indexOf('api')).toBe(FIRST_IN_A_ROW + 1);
  });

  it('with yieldToIo, hands a freed slot over on a later turn of the event loop, not in the same microtasks', async () => {
    const drainMicrotasks = async () => {
      for (let i = 0; i < 20; i++) await Promise.resolve();
    };
    for (const yieldToIo of [false, true]) {
      const s = makeScheduler({ slots: 1, yieldToIo });
      const first = await s.acquire(true);
      let granted = false;
      void s.acquire().then(() => (granted = true));
      first();
      // Nobody may slip past the waiter while the hand-over is pending.
      let jumped = false;
      void s.acquire(true).then(() => (jumped = true));
      await drainMicrotasks();
      expect(granted).toBe(!yieldToIo);
      await settle();
      expect(granted || jumped).toBe(true);
      if (yieldToIo) expect([granted, jumped]).toEqual([false, true]); // the executor's lane went first
    }
  });

  it('gives a slot back once, however often release is called', async () => {
    const s = makeScheduler({ slots: 1 });
    const release = await s.acquire();
    release();
    release();
    const a = await s.acquire();
    let second = false;
    void s.acquire().then(() => (second = true));
    await settle();
    expect(second).toBe(false);
    a();
    await settle();
    expect(second).toBe(true);
  });
});

describe('one request’s share', () => {
  it('makeLimit runs at most n at once, the rest in order', async () => {
    const limit = makeLimit(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const gates = Array.from({ length: 6 }, () => {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      return { promise, resolve };
    });
    const all = gates.map((g, i) =>
      limit(async () => {
        started.push(i);
        most = Math.max(most, ++running);
        await g.promise;
        running--;
      }),
    );
    await settle();
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve();
    await settle();
    expect(started).toEqual([0, 1, 2]);
    for (const g of gates) g.resolve();
    await Promise.all(all);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(most).toBe(2);
  });

  it("forRequest holds a request's task reads to READS_PER_REQUEST in flight, each view on its own", async () => {
    let inFlight = 0;
    let most = 0;
    const slow = async () => {
      most = Math.max(most, ++inFlight);
      await settle(); // held across a turn of the event loop: the other reads queue meanwhile
      inFlight--;
      return [];
    };
    const store = { tasks: { attempts: slow } as unknown as TaskRepository, agents: {} } as unknown as Store;
    const one = forRequest(store);
    await Promise.all(Array.from({ length: 20 }, () => one.tasks.attempts('x')));
    expect(most).toBe(READS_PER_REQUEST);
    // Two requests: each has its own share.
    most = 0;
    const [a, b] = [forRequest(store), forRequest(store)];
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).tasks.attempts('x')));
    expect(most).toBe(2 * READS_PER_REQUEST);
  });
});
