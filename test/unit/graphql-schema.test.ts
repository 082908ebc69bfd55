import { readFile } from 'node:fs/promises';
import { buildSchema, execute, findBreakingChanges, GraphQLError, parse, lexicographicSortSchema, printSchema } from 'graphql';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { SpindleError } from '../../src/domain/index.js';
import { formatError } from '../../src/graphql/errors.js';
import { every, flatten, eager } from '../../src/graphql/live.js';
import { makeLoader } from '../../src/graphql/loader.js';
import { makeSchema } from '../../src/graphql/schema.js';
import { createPubSub } from '@graphql-yoga/subscription';

const root = new URL('../../', import.meta.url);

describe('schema', () => {
  it('builds without a store, runtime or server', async () => {
    const schema = await makeSchema();
    expect(Object.keys(schema.getSubscriptionType()!.getFields()).sort()).toEqual(['buildUpdated', 'stats', 'taskEvents', 'taskOutput', 'taskUpdated']);
  });

  it('hands submitTask and submitTasks the inputs as graphql-js coerced them, nested inputs included', async () => {
    const schema = await makeSchema();
    const seen: unknown[] = [];
    const caller = { tenantId: 't1' };
    const tasks = {
      submit: async (who: unknown, input: unknown) => (seen.push(who, input), { id: 'a' }),
      submitBatch: async (who: unknown, inputs: unknown[]) => (seen.push(who, inputs), inputs.map((_, i) => ({ id: `b${i}` }))),
    };
    const result = await execute({
      schema,
      document: parse(`mutation {
        one: submitTask(input: { agent: "hello", args: ["x"], limits: { timeoutMs: 50 } }) { id }
        many: submitTasks(inputs: [{ agent: "a" }, { agent: "b", retryPolicy: { maxAttempts: 2 } }]) { id }
      }`),
      contextValue: { caller, services: { tasks } },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ one: { id: 'a' }, many: [{ id: 'b0' }, { id: 'b1' }] });
    const [who, one, whoToo, many] = seen as [unknown, Record<string, unknown>, unknown, Record<string, unknown>[]];
    expect(who).toBe(caller);
    expect(whoToo).toBe(caller);
    expect(one).toEqual({ agent: 'hello', args: ['x'], limits: { timeoutMs: 50 } });
    // graphql-js's own objects (null prototype): no class instance is made of any input, nested ones included.
    expect(Object.getPrototypeOf(one)).toBeNull();
    expect(Object.getPrototypeOf(one.limits)).toBeNull();
    expect(many).toEqual([{ agent: 'a' }, { agent: 'b', retryPolicy: { maxAttempts: 2 } }]);
    expect(Object.getPrototypeOf(many[1]!.retryPolicy)).toBeNull();
  });

  it('keeps every name of docs/api-contract.graphql (no breaking change)', async () => {
    const contract = buildSchema(await readFile(new URL('docs/api-contract.graphql', root), 'utf8'));
    expect(findBreakingChanges(contract, await makeSchema())).toEqual([]);
  });

  it('matches the committed schema/schema.graphql (run `npm run schema:emit` when this fails)', async () => {
    const committed = await readFile(new URL('schema/schema.graphql', root), 'utf8');
    const sdl = printSchema(lexicographicSortSchema(await makeSchema()));
    expect(committed.replace(/^#.*\n\n/, '').trimEnd()).toBe(sdl.trimEnd());
  });
});

describe('formatError', () => {
  const logged: unknown[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line)) });

  it('turns a SpindleError into its code and details', () => {
    const err = new GraphQLError('wrapped', { originalError: new SpindleError('NOT_FOUND', 'input.agent: agent "x" not found', { field: 'input.agent' }) });
    expect(formatError({ message: 'wrapped', path: ['submitTask'] }, err, logger)).toEqual({
      message: 'input.agent: agent "x" not found',
      path: ['submitTask'],
      extensions: { code: 'NOT_FOUND', field: 'input.agent' },
    });
  });

  it('masks and logs anything unexpected, without a stack', () => {
    const boom = new Error('connection string postgres://secret@db leaked');
    const out = formatError({ message: boom.message, extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['x'] } }, new GraphQLError(boom.message, { originalError: boom }), logger);
    expect(out).toEqual({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(JSON.stringify(logged)).toContain('secret@db');
  });

  it("passes GraphQL's own errors through", () => {
    const err = new GraphQLError('Cannot query field "nope" on type "Query".', { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    expect(formatError(err.toJSON(), err, logger)).toMatchObject({ message: err.message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
  });
});

describe('loader', () => {
  it('batches the loads of one tick into one call and caches', async () => {
    const calls: string[][] = [];
    const loader = makeLoader(async (keys: string[]) => {
      calls.push(keys);
      return new Map(keys.map((k) => [k, k.toUpperCase()]));
    }, { missing: null as string | null });
    expect(await Promise.all(['a', 'b', 'a', 'c'].map((k) => loader.load(k)))).toEqual(['A', 'B', 'A', 'C']);
    expect(await loader.load('b')).toBe('B');
    expect(calls).toEqual([['a', 'b', 'c']]);
  });

  it('answers missing keys with the given value and does not cache with cache: false', async () => {
    let n = 0;
    const loader = makeLoader(async () => {
      n++;
      return new Map<string, number>();
    }, { missing: -1, cache: false });
    expect(await loader.load('x')).toBe(-1);
    expect(await loader.load('x')).toBe(-1);
    expect(n).toBe(2);
  });
});

describe('live helpers', () => {
  it('flattens batches, filters, starts with initial values and stops on until', async () => {
    const pubsub = createPubSub<{ T: [number[]] }>();
    const it = eager(pubsub.subscribe('T'));
    const live = flatten(it, (n) => n % 2 === 0, { initial: [0], until: (n) => n >= 6 });
    pubsub.publish('T', [1, 2, 3, 4]);
    pubsub.publish('T', [6, 8]);
    const seen: number[] = [];
    for await (const n of live) seen.push(n);
    expect(seen).toEqual([0, 2, 4, 6]);
  });

  it('ends a flatten promptly when the consumer returns, with no event pending', async () => {
    const pubsub = createPubSub<{ T: [number[]] }>();
    const live = flatten(eager(pubsub.subscribe('T')), () => true);
    const next = live.next();
    await live.return();
    await expect(next).resolves.toMatchObject({ done: true });
  });

  it('ends a flatten when its end signal fires, while a read waits', async () => {
    const pubsub = createPubSub<{ T: [number[]] }>();
    let fire!: () => void;
    let closed = 0;
    const end = { ended: new Promise<void>((resolve) => (fire = resolve)), close: async () => void closed++ };
    const live = flatten(eager(pubsub.subscribe('T')), () => true, { end });
    pubsub.publish('T', [1]);
    expect(await live.next()).toEqual({ done: false, value: 1 });
    const waiting = live.next();
    fire();
    await expect(waiting).resolves.toMatchObject({ done: true });
    expect(closed).toBe(1);
    await expect(live.next()).resolves.toMatchObject({ done: true });
  });

  it('fails a read when its source fails, and reads a batch only once the last one is taken', async () => {
    const reads: string[] = [];
    const batches = [[1, 2], [3]];
    const source: AsyncIterator<number[]> = {
      next: async () => {
        reads.push('read');
        const batch = batches.shift();
        if (!batch) throw new Error('bus down');
        return { done: false, value: batch };
      },
      return: async () => ({ done: true, value: undefined }),
    };
    const live = flatten(source, () => true);
    expect(await live.next()).toEqual({ done: false, value: 1 });
    expect(await live.next()).toEqual({ done: false, value: 2 });
    expect(reads).toHaveLength(1);
    expect(await live.next()).toEqual({ done: false, value: 3 });
    await expect(live.next()).rejects.toThrow('bus down');
    await expect(live.next()).resolves.toMatchObject({ done: true });
  });

  it('answers next() calls made at once in order, each its own value', async () => {
    const pubsub = createPubSub<{ T: [number[]] }>();
    const live = flatten(eager(pubsub.subscribe('T')), () => true);
    const first = live.next();
    const second = live.next();
    const third = live.next();
    pubsub.publish('T', [1, 2]);
    pubsub.publish('T', [3]);
    expect(await Promise.all([first, second, third])).toEqual([
      { done: false, value: 1 },
      { done: false, value: 2 },
      { done: false, value: 3 },
    ]);
    await live.return();
  });

  it('lets go of its sources before return() resolves', async () => {
    let released = false;
    const source: AsyncIterator<number[]> = {
      next: () => new Promise(() => {}),
      return: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        released = true;
        return { done: true, value: undefined };
      },
    };
    const live = flatten(source, () => true);
    const pending = live.next();
    await live.return();
    expect(released).toBe(true);
    await expect(pending).resolves.toMatchObject({ done: true });
  });

  it('every() pushes now and on each interval until returned', async () => {
    let n = 0;
    const live = every(10, async () => ++n);
    const got: number[] = [];
    for await (const v of live) {
      got.push(v);
      if (got.length === 3) break;
    }
    expect(got).toEqual([1, 2, 3]);
  });
});

describe('every()', () => {
  it('fails on a failing first value, but skips a later failure', async () => {
    const first = every(10, async () => {
      throw new Error('down');
    });
    await expect(first.next()).rejects.toThrow('down');

    let n = 0;
    const later = every(10, async () => {
      n++;
      if (n === 2) throw new Error('blip');
      return n;
    });
    const got: number[] = [];
    for await (const v of later) {
      got.push(v);
      if (got.length === 2) break;
    }
    expect(got).toEqual([1, 3]);
  });
});
