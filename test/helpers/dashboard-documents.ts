/** What the tests of the dashboard's GraphQL documents share. */
import { textOf, type TadaDocumentNode } from '../../src/client/index.js';

/** The dashboard's operations (queries.ts exports its typed documents; fragments are parts of them), as text. */
export function dashboardOperations(mod: Record<string, unknown>): [string, string][] {
  const isDoc = (v: unknown): v is TadaDocumentNode<any, any, any> => typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'Document';
  return Object.entries(mod).flatMap(([name, v]): [string, string][] =>
    isDoc(v) && v.definitions.some((d) => d.kind === 'OperationDefinition') ? [[name, textOf(v)]] : [],
  );
}
