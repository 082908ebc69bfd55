// The dashboard's own operations stay well inside the default depth and cost limits.
import { parse, specifiedRules, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { depthLimitRule, operationCost } from '../../src/graphql/cost.js';
import { makeSchema } from '../../src/graphql/schema.js';
import * as queries from '../../web/src/api/queries.js';
import { dashboardOperations } from '../helpers/dashboard-documents.js';

describe('default limits and the dashboard', () => {
  it('every dashboard operation passes MAX_QUERY_DEPTH and MAX_QUERY_COST at their defaults (pages of 500)', async () => {
    const { graphql } = loadConfig({});
    const schema = await makeSchema();
    const ops = dashboardOperations(queries);
    expect(ops.length).toBeGreaterThan(3);
    const costed: string[] = [];
    for (const [name, text] of ops) {
      const doc = parse(text);
      expect(validate(schema, doc, [...specifiedRules, depthLimitRule(graphql.maxDepth)]).map((e) => `${name}: ${e.message}`)).toEqual([]);
      let cost: number;
      try {
        cost = operationCost(schema, doc, { first: 500, filter: null, after: null, id: '00000000-0000-7000-8000-000000000000', inputs: [] });
      } catch {
        continue; // a mutation needing an input object: no lists, cheap by construction
      }
      costed.push(name);
      expect(cost, name).toBeLessThanOrEqual(graphql.maxCost);
    }
    expect(costed).toContain('TASKS_QUERY');
  });
});
