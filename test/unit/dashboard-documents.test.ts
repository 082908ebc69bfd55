/**
 * Every GraphQL document the dashboard sends (web/src/api/queries.ts, written with the typed
 * client's tag) is valid against the schema the server serves (schema/schema.graphql), as the
 * text that goes on the wire: a renamed field or argument fails here as well as in the type-check.
 */
import { readFileSync } from 'node:fs';
import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { textOf } from '../../src/client/index.js';
import * as queries from '../../web/src/api/queries.js';
import { dashboardOperations } from '../helpers/dashboard-documents.js';

const schema = buildSchema(readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8'));

const documents: [string, string][] = [
  ...dashboardOperations(queries),
  ...(['cancelTasks', 'retryTasks', 'deleteTasks'] as const).map((a): [string, string] => [`bulkMutation(${a})`, textOf(queries.bulkMutation(a))]),
  // Submitted.tsx reads several tasks in one query, one alias each, spreading the row fragment.
  ['Submitted rows', `query { t0: task(id: "x") { ...Row } t1: task(id: "y") { ...Row } } ${textOf(queries.ROW)}`],
];

describe("the dashboard's GraphQL documents", () => {
  it('are found', () => {
    expect(documents.length).toBeGreaterThan(15);
  });

  it.each(documents)('%s is valid against schema/schema.graphql', (_name, text) => {
    expect(validate(schema, parse(text)).map((e) => e.message)).toEqual([]);
  });
});
