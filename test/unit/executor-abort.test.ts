import { describe, expect, it } from 'vitest';
import { Abort } from '../../src/executor/abort.js';
import { makeRuntime } from '../../src/runtime/index.js';
import { runRequest, watRef } from '../helpers/fixtures.js';

describe('Abort (a run\'s cancellation)', () => {
  it('calls each listener once, on the first abort only', () => {
    const a = new Abort();
    const calls: string[] = [];
    a.signal.addEventListener('abort', () => calls.push('one'));
    a.signal.addEventListener('abort', () => calls.push('two'));
    expect(a.signal.aborted).toBe(false);
    a.abort();
    a.abort();
    expect(a.signal.aborted).toBe(true);
    expect(calls).toEqual(['one', 'two']);
  });

  it('forgets a removed listener, and never calls one added after the abort', () => {
    const a = new Abort();
    const calls: string[] = [];
    const removed = () => calls.push('removed');
    a.addEventListener('abort', removed);
    a.removeEventListener('abort', removed);
    a.removeEventListener('abort', () => {}); // not registered: nothing happens
    a.abort();
    a.addEventListener('abort', () => calls.push('late'));
    expect(calls).toEqual([]);
  });

  it('runs the other listeners when one throws, and reports that error as uncaught', async () => {
    const a = new Abort();
    const calls: string[] = [];
    const uncaught = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
    a.addEventListener('abort', () => {
      throw new Error('listener failed');
    });
    a.addEventListener('abort', () => calls.push('second'));
    a.abort();
    expect(calls).toEqual(['second']);
    expect(((await uncaught) as Error).message).toBe('listener failed');
  });

  it('cancels a run on the runtime, as an AbortSignal would', async () => {
    const rt = makeRuntime({ workers: 1 });
    try {
      const a = new Abort();
      const run = rt.run(runRequest(await watRef('infinite_loop'), { limits: { timeoutMs: 30_000 } }), a.signal);
      setTimeout(() => a.abort(), 50);
      const outcome = await run;
      expect(outcome.kind).toBe('cancelled');
      const before = new Abort();
      before.abort();
      expect((await rt.run(runRequest(await watRef('hello')), before.signal)).kind).toBe('cancelled');
    } finally {
      await rt.close();
    }
  });
});
