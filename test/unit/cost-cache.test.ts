// The per-node cost cache (graphql/cost.ts makeCostCache): a cached cost is the cost the
// operation would have, whatever the variables that change it.
import { parse } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeCostCache, operationCost } from '../../src/graphql/cost.js';
import { makeSchema } from '../../src/graphql/schema.js';

let schema: Awaited<ReturnType<typeof makeSchema>>;
beforeAll(async () => {
  schema = await makeSchema();
});

describe('the cost cache', () => {
  const cases: [string, Record<string, unknown> | undefined][] = [
    [`query ($n: Int) { tasks(first: $n) { edges { node { id } } } }`, { n: 10 }],
    [`query ($n: Int) { tasks(first: $n) { edges { node { id } } } }`, { n: 400 }],
    [`query ($n: Int) { tasks(first: $n) { edges { node { id } } } }`, { n: null }],
    [`query ($n: Int) { tasks(first: $n) { edges { node { id } } } }`, {}],
    [`mutation ($in: [SubmitTaskInput!]!) { submitTasks(inputs: $in) { id } }`, { in: [{ agent: 'a' }] }],
    [`mutation ($in: [SubmitTaskInput!]!) { submitTasks(inputs: $in) { id } }`, { in: Array.from({ length: 50 }, () => ({ agent: 'a' })) }],
    [`query ($b: Boolean!) { tasks { totalCount edges @include(if: $b) { node { id stdout } } } }`, { b: true }],
    [`query ($b: Boolean!) { tasks { totalCount edges @include(if: $b) { node { id stdout } } } }`, { b: false }],
  ];

  it('answers what operationCost answers, in any order, for variables that change the cost', () => {
    const cache = makeCostCache(1_000_000);
    for (const round of [0, 1]) {
      for (const [query, variables] of round ? [...cases].reverse() : cases) {
        expect(cache.cost(schema, parse(query), query, variables)).toBe(operationCost(schema, parse(query), variables));
      }
    }
  });

  it('keeps no cost above the limit and lets coercion errors through', () => {
    const cache = makeCostCache(100);
    const query = `query ($n: Int) { tasks(first: $n) { edges { node { id } } } }`;
    expect(cache.cost(schema, parse(query), query, { n: 400 })).toBeGreaterThan(100);
    expect(() => cache.cost(schema, parse(query), query, { n: 'x' })).toThrow();
    expect(cache.cost(schema, parse(query), query, { n: 1 })).toBe(operationCost(schema, parse(query), { n: 1 }));
  });
});
