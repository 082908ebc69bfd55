/**
 * Static bounds on an operation, checked before it runs over either transport: a depth limit (a
 * validation rule) and a cost limit (graphql-query-complexity: 1 per field, a list field with a
 * page size or a batch multiplies what it selects). Both answer LIMIT_EXCEEDED naming the option.
 */
import {
  GraphQLError,
  Kind,
  Lexer,
  Source,
  TokenKind,
  type ASTNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';

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

/** Lists with a size argument cost their children that many times: tasks(first), submitTasks(inputs), filters with ids. */
const sizedListEstimator: ComplexityEstimator = ({ args, childComplexity }) => {
  const n = typeof args.first === 'number' ? args.first : Array.isArray(args.inputs) ? args.inputs.length : null;
  if (n === null) return undefined;
  return 1 + Math.max(1, n) * Math.max(1, childComplexity);
};

export function operationCost(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | undefined, operationName?: string | null): number {
  return getComplexity({
    schema,
    query: document,
    variables: variables ?? {},
    ...(operationName ? { operationName } : {}),
    estimators: [sizedListEstimator, simpleEstimator({ defaultComplexity: 1 })],
  });
}

const MAX_KEY_CHARS = 8 * 1024;

/**
 * Costs of operations seen before, per (document, operation, variable shape). Variables change the
 * cost only through top-level values an argument or directive takes directly: `first: $n` (a
 * number), `inputs: $list` (its length) and `@include(if: $b)` (a boolean); the shape keeps exactly
 * those and the kind of everything else, so equal shapes cost the same. Only costs within
 * `maxCost` are kept, so a refusal (or a coercion error found while costing) is always computed
 * afresh, exactly as without the cache. Bounded: cleared when full.
 */
export function makeCostCache(maxCost: number, max = 1000) {
  const costs = new Map<string, number>();
  return {
    cost(schema: GraphQLSchema, document: DocumentNode, documentKey: string, variables: Record<string, unknown> | undefined, operationName?: string | null): number {
      const key = `${operationName ?? ''}\u0000${variableShape(variables)}\u0000${documentKey}`;
      const hit = costs.get(key);
      if (hit !== undefined) return hit;
      const cost = operationCost(schema, document, variables, operationName); // throws on variables that do not coerce: not cached
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

/** Throws LIMIT_EXCEEDED when the operation's cost passes `max`. */
export function checkCost(max: number, schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | undefined, operationName?: string | null): void {
  const cost = operationCost(schema, document, variables, operationName);
  if (cost > max) throw costError(max, cost);
}
