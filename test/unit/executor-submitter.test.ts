import { describe, expect, it } from 'vitest';
import { makeSubmitter } from '../../src/executor/submitter.js';
import type { NewTask, TaskRow } from '../../src/store/types.js';

/** A stand-in NewTask: only idempotencyKey matters here (it carries the test's label). */
const t = (label: string) => ({ idempotencyKey: label }) as NewTask;
const rows = (tasks: NewTask[]) => tasks.map((x) => ({ task: { id: x.idempotencyKey } as TaskRow, created: true }));

describe('makeSubmitter', () => {
  it('inserts at once when idle, and shares one insert among requests that arrive meanwhile', async () => {
    const calls: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const submitter = makeSubmitter({
      parallel: 1,
      batchMax: 100,
      async insert(tasks) {
        calls.push(tasks.map((x) => x.idempotencyKey!));
        if (calls.length === 1) await gate;
        return rows(tasks);
      },
    });
    const first = submitter.submit([t('a')]);
    const second = submitter.submit([t('b'), t('c')]);
    const third = submitter.submit([t('d')]);
    expect(calls).toEqual([['a']]);
    release();
    const results = await Promise.all([first, second, third]);
    expect(calls).toEqual([['a'], ['b', 'c', 'd']]);
    expect(results.map((r) => r.map((x) => x.task.id))).toEqual([['a'], ['b', 'c'], ['d']]);
  });

  it('keeps a shared insert under batchMax', async () => {
    const calls: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const submitter = makeSubmitter({
      parallel: 1,
      batchMax: 3,
      async insert(tasks) {
        calls.push(tasks.length);
        if (calls.length === 1) await gate;
        return rows(tasks);
      },
    });
    const all = [submitter.submit([t('x')]), ...['a', 'b', 'c', 'd', 'e'].map((l) => submitter.submit([t(l)]))];
    release();
    await Promise.all(all);
    expect(calls).toEqual([1, 3, 2]);
  });

  it('a failing request fails alone: the shared insert is retried request by request', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let n = 0;
    const submitter = makeSubmitter({
      parallel: 1,
      batchMax: 100,
      async insert(tasks) {
        if (n++ === 0) await gate;
        if (tasks.some((x) => x.idempotencyKey === 'bad')) throw new Error('foreign key violation');
        return rows(tasks);
      },
    });
    const first = submitter.submit([t('a')]);
    const good = submitter.submit([t('b')]);
    const bad = submitter.submit([t('bad')]);
    release();
    await expect(first).resolves.toHaveLength(1);
    await expect(good).resolves.toEqual([{ task: { id: 'b' }, created: true }]);
    await expect(bad).rejects.toThrow('foreign key violation');
  });

  it('resolves an empty submit without inserting', async () => {
    const submitter = makeSubmitter({ parallel: 1, batchMax: 10, insert: () => Promise.reject(new Error('no')) });
    await expect(submitter.submit([])).resolves.toEqual([]);
  });
});
