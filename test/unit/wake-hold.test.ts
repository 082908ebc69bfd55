import { describe, expect, it } from 'vitest';
import { WakeHold, type Slot } from '../../src/runtime/slot.js';

/** A slot that only records its wakes. */
function fakeSlot(name: string, log: string[]): Slot {
  return { wakeWorker: () => log.push(name) } as unknown as Slot;
}

describe('WakeHold (wakes of sleeping workers during a drain)', () => {
  it('wakes at once outside a hold', () => {
    const log: string[] = [];
    const hold = new WakeHold();
    hold.wake(fakeSlot('a', log));
    expect(log).toEqual(['a']);
  });

  it('holds the wakes asked for during a hold and sends each slot one when it ends', () => {
    const log: string[] = [];
    const hold = new WakeHold();
    const a = fakeSlot('a', log);
    const b = fakeSlot('b', log);
    const result = hold.during(() => {
      hold.wake(a);
      hold.wake(b);
      hold.wake(a);
      expect(log).toEqual([]);
      return 42;
    });
    expect(result).toBe(42);
    expect(log).toEqual(['a', 'b']);
  });

  it('sends them only when the outermost hold ends, and after a throw too', () => {
    const log: string[] = [];
    const hold = new WakeHold();
    const a = fakeSlot('a', log);
    hold.during(() => {
      hold.during(() => hold.wake(a));
      expect(log).toEqual([]);
    });
    expect(log).toEqual(['a']);
    expect(() =>
      hold.during(() => {
        hold.wake(a);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(log).toEqual(['a', 'a']);
    hold.wake(a); // not held any more
    expect(log).toEqual(['a', 'a', 'a']);
  });
});
