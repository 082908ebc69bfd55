/**
 * Every GraphQL document the dashboard sends (web/src/api/queries.ts) is valid against the
 * schema the server serves (schema/schema.graphql): a renamed field or argument fails here, not
 * in a user's browser.
 */
import { readFileSync } from 'node:fs';
import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import * as queries from '../../web/src/api/queries.js';

const schema = buildSchema(readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8'));

const documents: [string, string][] = [
  ...Object.entries(queries as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string' && /^\s*(query|mutation|subscription)\b/.test(e[1])),
  ...(['cancelTasks', 'retryTasks', 'deleteTasks'] as const).map((a): [string, string] => [`bulkMutation(${a})`, queries.bulkMutation(a)]),
  // Submitted.tsx reads several tasks in one query, one alias each.
  ['Submitted rows', `query { t0: task(id: "x") { ${queries.ROW} } t1: task(id: "y") { ${queries.ROW} } }`],
];

describe("the dashboard's GraphQL documents", () => {
  it('are found', () => {
    expect(documents.length).toBeGreaterThan(15);
  });

  it.each(documents)('%s is valid against schema/schema.graphql', (_name, text) => {
    expect(validate(schema, parse(text)).map((e) => e.message)).toEqual([]);
  });
});
