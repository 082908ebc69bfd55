/**
 * Static bounds on an operation, checked before it runs over either transport: a depth limit (a
 * validation rule) and a cost limit (graphql-query-complexity with the cost table below: what each
 * field costs the database; a list field with a page size or a batch multiplies what it selects).
 * Both answer LIMIT_EXCEEDED naming the option.
 */
import {
  GraphQLError,
  Kind,
  Lexer,
  Source,
  TokenKind,
  type ASTNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { MAX_BULK_IDS } from '../services/index.js';

export const limitError = (message: string, extensions: Record<string, unknown>, nodes?: readonly ASTNode[]) =>
  new GraphQLError(message, { nodes, extensions: { code: 'LIMIT_EXCEEDED', ...extensions } });

/**
 * Before parsing: graphql-js parses recursively, so a document of `{a{a{a…` thousands deep would
 * exhaust the stack inside the parser. The lexer is flat; count the nesting of (), [] and {} with
 * it and stop at the first bracket past `maxNesting` or the token past `maxTokens`. Lexing errors
 * are left to the parser, which reports them properly.
 */
export function checkNesting(text: string, maxNesting: number, maxTokens: number): void {
  const lexer = new Lexer(new Source(text));
  let depth = 0;
  let tokens = 0;
  try {
    for (let t = lexer.advance(); t.kind !== TokenKind.EOF; t = lexer.advance()) {
      if (++tokens > maxTokens) return; // the parser's own token limit reports it
      if (t.kind === TokenKind.BRACE_L || t.kind === TokenKind.BRACKET_L || t.kind === TokenKind.PAREN_L) {
        if (++depth > maxNesting) {
          throw limitError(`the document nests brackets more than ${maxNesting} deep (MAX_QUERY_DEPTH)`, { quota: 'MAX_QUERY_DEPTH', limit: String(maxNesting) });
        }
      } else if (t.kind === TokenKind.BRACE_R || t.kind === TokenKind.BRACKET_R || t.kind === TokenKind.PAREN_R) {
        depth--;
      }
    }
  } catch (err) {
    if (err instanceof GraphQLError && err.extensions.code === 'LIMIT_EXCEEDED') throw err;
    // A syntax error: parse() says it better.
  }
}

/** Brackets allowed before parsing: selections plus arguments and list/object literals around them. */
export const maxNestingFor = (maxDepth: number) => 2 * maxDepth + 32;

/** Refuses operations nested deeper than `max` selection levels (fragments followed, cycles cut). */
export function depthLimitRule(max: number): ValidationRule {
  return (context: ValidationContext) => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);

    const depthOf = (set: SelectionSetNode, seen: Set<string>, level: number): number => {
      // Stop early: a hostile document must not make us walk all of it.
      if (level > max) return level;
      let deepest = level;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          if (sel.selectionSet) deepest = Math.max(deepest, depthOf(sel.selectionSet, seen, level + 1));
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(sel.selectionSet, seen, level));
        } else {
          const name = sel.name.value;
          const frag = fragments.get(name);
          if (!frag || seen.has(name)) continue; // unknown or cyclic: other rules report it
          deepest = Math.max(deepest, depthOf(frag.selectionSet, new Set(seen).add(name), level));
        }
        if (deepest > max) return deepest;
      }
      return deepest;
    };

    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, new Set(), 1);
        if (depth > max) {
          context.reportError(limitError(`the operation is nested more than ${max} levels deep (MAX_QUERY_DEPTH)`, { quota: 'MAX_QUERY_DEPTH', limit: String(max) }, [node]));
        }
      },
    };
  };
}

/**
 * What a field costs, in units of about 20 µs of database and server time, so the default
 * MAX_QUERY_COST (50,000) is about one second of work. Calibrated with `npm run bench flood`
 * (bench/flood.ts): a tenant of 30k tasks on PostgreSQL, the costliest request of each shape that
 * the default admits, on the 2-core CI machine kind. Fields not listed cost 1 (resolved in memory).
 *
 * | field | what it costs the database | units |
 * |---|---|---|
 * | `TaskConnection.totalCount`, `.totalCountExact` | a count of at most COUNT_EXACT_MAX + 1 matching index entries, then an EXPLAIN (one count for both) | 400 |
 * | `Query.tasks` | one page read, plus each row as `first` × what the row selects | 60 + first × (row) |
 * | `TaskEdge.node` | one row of the page: decoding a full task row | 4 |
 * | `Query.task` | a lookup by id (a request's lookups go in one batched statement), and its row | 8 |
 * | `Task.attemptList`, `.stdout`, `.stderr`, `.stdoutBase64`, `.stderrBase64`, `.trap`, `.error` | the task's attempts: one statement per task | 60 |
 * | `Task.outputFiles` | the attempts, then the files bundle from the blob store | 60 + 60 |
 * | `Task.inputFiles`, `.inputFilePreviews` | the files bundle from the blob store | 60 |
 * | `Task.agent`, `.agentVersion`, `TaskEvent.task` | batched lookups per request | 4 |
 * | `Query.stats` | a bounded count per status of the tenant's tasks (cached ≤ 1 s per tenant) | 400 |
 * | `Query.agents`, `Query.agent`, `Agent.versions`, `Agent.version`, `Query.me`, `Query.apiKeys`, `Query.tenants` | a small read | 20 |
 * | `Agent.stats` | the window's newest tasks (at most 10,000 index entries) and their attempts, aggregated | 400 |
 * | `Mutation.submitTask`, `.cancelTask`, `.retryTask` and each of `submitTasks(inputs)` | a write | 40 |
 * | `Mutation.cancelTasks`, `.retryTasks` | the selection read (a count over the matching tasks), then per task a share of a batched write | 400 + tasks × 2 |
 * | `Mutation.deleteTasks` | the same, per task its attempts too and the look-up of the blobs they named | 400 + tasks × 4 |
 * | `Mutation.registerAgent`, `.deleteAgent`, `.pauseAgent`, `.resumeAgent`, `.setAgentConcurrency`, `.createTenant`, `.setTenantQuotas`, `.createApiKey`, `.revokeApiKey` | a write | 100 |
 *
 * A bulk call's tasks are its `ids`, or with a filter as many as it may take on (BULK_MAX): with
 * the defaults (BULK_MAX 10,000) one operation holds at most two filter cancels or retries, or
 * one filter delete.
 *
 * A count is the dearest read: PostgreSQL visits matching index entries, up to COUNT_EXACT_MAX + 1
 * of them for totalCount and stats (~2–4 ms at the default 10,000), every one for a bulk selection. API_STATEMENT_TIMEOUT_MS bounds it on
 * PostgreSQL whatever the size. On PGlite the same costs admit two to three times the work time
 * (one connection, in WebAssembly); there the cost limit is the only bound of a statement.
 */
export const FIELD_COSTS: Readonly<Record<string, number>> = Object.freeze({
  'TaskConnection.totalCount': 400,
  'TaskConnection.totalCountExact': 400,
  'Query.tasks': 60,
  'TaskEdge.node': 4,
  'Query.task': 8,
  'Task.attemptList': 60,
  'Task.stdout': 60,
  'Task.stderr': 60,
  'Task.stdoutBase64': 60,
  'Task.stderrBase64': 60,
  'Task.trap': 60,
  'Task.error': 60,
  'Task.outputFiles': 120,
  'Task.inputFiles': 60,
  'Task.inputFilePreviews': 60,
  'Task.agent': 4,
  'Task.agentVersion': 4,
  'TaskEvent.task': 4,
  'Query.stats': 400,
  'Query.agents': 20,
  'Query.agent': 20,
  'Agent.versions': 20,
  'Agent.version': 20,
  'Agent.stats': 400,
  'Query.me': 20,
  'Query.apiKeys': 20,
  'Query.tenants': 20,
  'Mutation.submitTask': 40,
  'Mutation.submitTasks': 0, // per input, below
  'Mutation.cancelTask': 40,
  'Mutation.retryTask': 40,
  'Mutation.cancelTasks': 400, // plus per task, below
  'Mutation.retryTasks': 400,
  'Mutation.deleteTasks': 400,
  'Mutation.registerAgent': 100,
  'Mutation.deleteAgent': 100,
  'Mutation.pauseAgent': 100,
  'Mutation.resumeAgent': 100,
  'Mutation.setAgentConcurrency': 100,
  'Mutation.createTenant': 100,
  'Mutation.setTenantQuotas': 100,
  'Mutation.createApiKey': 100,
  'Mutation.revokeApiKey': 100,
});

/** One submitted task of submitTasks(inputs): its share of the insert. */
const SUBMIT_EACH = 40;
/** One task of a bulk action: its share of the batched writes. */
const BULK_EACH: Readonly<Record<string, number>> = { cancelTasks: 2, retryTasks: 2, deleteTasks: 4 };

export interface CostOptions {
  /** BULK_MAX: the tasks a bulk action with a filter is costed as (default: as many as it may name by ids). */
  bulkMax?: number;
}
/** A row of a page is read and decoded whether or not `edges` asks for it. */
const PAGE_ROW = FIELD_COSTS['TaskEdge.node']!;

/**
 * A field's own cost from the table, plus what it selects: once; per item for a list with a size
 * argument (submitTasks(inputs)); for a connection (tasks(first)), its `edges` per row and the rest
 * (totalCount, pageInfo) once. Made per costing: it remembers the cost of each field node it
 * estimated (children are estimated before their parent) to find a connection's `edges`.
 */
function makeDatabaseEstimator(document: DocumentNode, { bulkMax = MAX_BULK_IDS }: CostOptions): ComplexityEstimator {
  const costOf = new WeakMap<FieldNode, number>();
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);

  /** What the `edges` selections under this selection set cost, through fragments (as they were costed). */
  const edgesCost = (set: SelectionSetNode | undefined, seen: ReadonlySet<string>): number => {
    let sum = 0;
    for (const sel of set?.selections ?? []) {
      if (sel.kind === Kind.FIELD) sum += sel.name.value === 'edges' ? (costOf.get(sel) ?? 0) : 0;
      else if (sel.kind === Kind.INLINE_FRAGMENT) sum += edgesCost(sel.selectionSet, seen);
      else if (!seen.has(sel.name.value)) sum += edgesCost(fragments.get(sel.name.value)?.selectionSet, new Set(seen).add(sel.name.value));
    }
    return sum;
  };

  return ({ type, field, node, args, childComplexity }) => {
    const own = FIELD_COSTS[`${type.name}.${field.name}`] ?? 1;
    let cost: number;
    if (typeof args.first === 'number') {
      const edges = edgesCost(node.selectionSet, new Set());
      cost = own + Math.max(1, args.first) * Math.max(PAGE_ROW, edges) + (childComplexity - edges);
    } else if (type.name === 'Mutation' && BULK_EACH[field.name] !== undefined) {
      const tasks = Array.isArray(args.ids) ? args.ids.length : bulkMax;
      cost = own + Math.max(1, tasks) * BULK_EACH[field.name]! + childComplexity;
    } else if (Array.isArray(args.inputs)) {
      cost = own + Math.max(1, args.inputs.length) * (SUBMIT_EACH + childComplexity);
    } else {
      cost = own + childComplexity;
    }
    costOf.set(node, cost);
    return cost;
  };
}

/**
 * graphql-query-complexity stops costing at this many selections (it re-walks fragments at every
 * spread, so a document of nested spreads would take exponential time). Each selection costs at
 * least 1, so an operation this large is refused like any other that costs too much.
 */
const MAX_COSTED_NODES = 10_000;

export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName?: string | null,
  options: CostOptions = {},
): number {
  try {
    return getComplexity({
      schema,
      query: document,
      variables: variables ?? {},
      ...(operationName ? { operationName } : {}),
      estimators: [makeDatabaseEstimator(document, options)],
      maxQueryNodes: MAX_COSTED_NODES,
    });
  } catch (err) {
    // Its own error for too many nodes carries no code: say what it means.
    if (err instanceof GraphQLError && /maximum allowed number of nodes/.test(err.message)) {
      throw limitError(`the operation has more than ${MAX_COSTED_NODES} selections to cost; the cost limit (MAX_QUERY_COST) refuses it`, { quota: 'MAX_QUERY_COST' });
    }
    throw err;
  }
}

const MAX_KEY_CHARS = 8 * 1024;

/**
 * Costs of operations seen before, per (document, operation, variable shape). Variables change the
 * cost only through top-level values an argument or directive takes directly: `first: $n` (a
 * number), `inputs: $list` and `ids: $list` (their lengths) and `@include(if: $b)` (a boolean); the shape keeps exactly
 * those and the kind of everything else, so equal shapes cost the same. Only costs within
 * `maxCost` are kept, so a refusal (or a coercion error found while costing) is always computed
 * afresh, exactly as without the cache. Bounded: cleared when full.
 */
export function makeCostCache(maxCost: number, max = 1000, options: CostOptions = {}) {
  const costs = new Map<string, number>();
  return {
    cost(schema: GraphQLSchema, document: DocumentNode, documentKey: string, variables: Record<string, unknown> | undefined, operationName?: string | null): number {
      const key = `${operationName ?? ''}\u0000${variableShape(variables)}\u0000${documentKey}`;
      const hit = costs.get(key);
      if (hit !== undefined) return hit;
      const cost = operationCost(schema, document, variables, operationName, options); // throws on variables that do not coerce: not cached
      // Big keys (long documents, many variables) are not kept: the cache must stay small.
      if (cost > maxCost || key.length > MAX_KEY_CHARS) return cost;
      if (costs.size >= max) costs.clear();
      costs.set(key, cost);
      return cost;
    },
  };
}

function variableShape(variables: Record<string, unknown> | undefined): string {
  if (!variables) return '';
  let shape = '';
  for (const name in variables) {
    const v = variables[name];
    const kind =
      typeof v === 'number' || typeof v === 'boolean' ? String(v) : v === null ? 'null' : v === undefined ? 'undef' : Array.isArray(v) ? `[${v.length}` : typeof v;
    shape += `${name}=${kind},`;
  }
  return shape;
}

export const costError = (max: number, cost: number, extra: Record<string, unknown> = {}) =>
  limitError(`the operation costs ${cost}, more than the maximum of ${max} (MAX_QUERY_COST); ask for fewer fields or smaller pages`, {
    quota: 'MAX_QUERY_COST',
    limit: String(max),
    cost,
    ...extra,
  });
