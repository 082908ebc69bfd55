/**
 * One check for every string a caller sends (STYLE §3): before any resolver or subscription runs,
 * its coerced arguments are walked (input fields, list items, JSON values and JSON keys) and a
 * string that PostgreSQL cannot store as text is refused as BAD_USER_INPUT naming its path
 * (`input.env.KEY`, `inputs[3].args[0]`):
 *
 * - a lone UTF-16 surrogate, anywhere: no UTF-8 encoding represents it, so it would be stored as
 *   U+FFFD (a different string: an idempotency key that no longer matches itself) or refused by
 *   the database (jsonb);
 * - NUL (U+0000), except in fields marked BECOMES_BYTES: text columns, jsonb and query parameters
 *   refuse it, and a guest's args and environment are C strings. A BECOMES_BYTES field is encoded
 *   to UTF-8 and kept as bytes (stdin, input file text), where NUL is an ordinary byte.
 *
 * Per-field rules (lengths, names, ranges) are the services' (services/task.check.ts, …); this pass
 * only makes sure no string reaches them, or the database, unrepresentable.
 */
import { defaultFieldResolver, getNamedType, isInputObjectType, isListType, isNonNullType, isObjectType, isScalarType, type GraphQLArgument, type GraphQLFieldResolver, type GraphQLInputType, type GraphQLSchema } from 'graphql';
import { badInput } from '../domain/index.js';

/** `@Extensions(BECOMES_BYTES)` on an input field whose text is kept as UTF-8 bytes: NUL allowed there. */
export const BECOMES_BYTES = { becomesBytes: true } as const;

/** Scalars whose coerced values are never strings (the scalar parsed them): not walked. */
const NOT_TEXT = new Set(['Int', 'Float', 'Boolean', 'BigInt', 'DateTime']);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is wrong with `s` as stored text, or null. */
export function textProblem(s: string, nulAllowed = false): string | null {
  if (!nulAllowed) {
    const nul = s.indexOf('\0');
    if (nul >= 0) return `must not contain NUL (U+0000, at index ${nul})`;
  }
  const lone = LONE_SURROGATE.exec(s);
  if (lone) {
    const code = lone[0].charCodeAt(0).toString(16).toUpperCase();
    return `must be well-formed Unicode: a lone surrogate (U+${code}, at index ${lone.index}) has no UTF-8 form`;
  }
  return null;
}

/** A path as the API names fields: `.name` for identifiers, `[3]` for items, `["odd key"]` otherwise. */
interface Path {
  prev: Path | null;
  key: string | number;
}

function pathName(path: Path): string {
  const parts: string[] = [];
  for (let p: Path | null = path; p; p = p.prev) {
    const { key } = p;
    if (typeof key === 'number') parts.push(`[${key}]`);
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) parts.push(p.prev ? `.${key}` : key);
    // JSON.stringify escapes NUL and lone surrogates, so the name itself is always printable.
    else parts.push(`[${JSON.stringify(key)}]`);
  }
  return parts.reverse().join('');
}

interface Item {
  value: unknown;
  /** The declared type; null inside a JSON (or other custom scalar) value. */
  type: GraphQLInputType | null;
  path: Path;
  nulAllowed: boolean;
  /** A JSON member: its key is text to check too (env names). */
  jsonKey: boolean;
}

/**
 * Walks one argument's value, iteratively (a JSON value may nest deeper than the stack), in
 * document order: the first bad string of the request is the one reported.
 */
function checkArgument(arg: GraphQLArgument, value: unknown): void {
  const stack: Item[] = [{ value, type: arg.type, path: { prev: null, key: arg.name }, nulAllowed: false, jsonKey: false }];
  const push = (children: Item[]) => {
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  };
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { value: v, path } = item;
    if (item.jsonKey && typeof path.key === 'string') {
      const problem = textProblem(path.key);
      if (problem) throw badInput(pathName(path), `key ${problem}`);
    }
    if (v === null || v === undefined) continue;
    const type = item.type && isNonNullType(item.type) ? item.type.ofType : item.type;
    if (type && isListType(type)) {
      // graphql-js has already made a single value a list of one.
      push((v as unknown[]).map((x, i) => ({ value: x, type: type.ofType, path: { prev: path, key: i }, nulAllowed: false, jsonKey: false })));
    } else if (type && isInputObjectType(type)) {
      const fields = type.getFields();
      push(
        Object.entries(v as Record<string, unknown>)
          .filter(([name]) => fields[name])
          .map(([name, x]) => ({ value: x, type: fields[name]!.type, path: { prev: path, key: name }, nulAllowed: fields[name]!.extensions?.becomesBytes === true, jsonKey: false })),
      );
    } else if (typeof v === 'string') {
      const problem = textProblem(v, item.nulAllowed);
      if (problem) throw badInput(pathName(path), problem);
    } else if (typeof v === 'object' && !(v instanceof Date)) {
      // A JSON value: its keys and strings are text too (env names and values).
      const members = Array.isArray(v) ? v.map((x, i) => [i, x] as const) : Object.entries(v as Record<string, unknown>);
      push(members.map(([key, x]) => ({ value: x, type: null, path: { prev: path, key }, nulAllowed: false, jsonKey: true })));
    }
  }
}

/** Whether a value of this type can hold a string (anything but enums and the NOT_TEXT scalars). */
function carriesText(type: GraphQLInputType, seen = new Set<string>()): boolean {
  const named = getNamedType(type);
  if (isScalarType(named)) return !NOT_TEXT.has(named.name);
  if (!isInputObjectType(named) || seen.has(named.name)) return false;
  seen.add(named.name);
  return Object.values(named.getFields()).some((f) => carriesText(f.type, seen));
}

/**
 * Puts the check in front of every field that takes a text-carrying argument: queries, mutations
 * and field arguments before `resolve`, subscriptions before `subscribe` (their `resolve` runs per
 * event). Fields without such arguments keep their resolver untouched: no cost per resolved field.
 */
export function guardArguments(schema: GraphQLSchema): void {
  const subscriptionType = schema.getSubscriptionType();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const guarded = field.args.filter((a) => carriesText(a.type));
      if (guarded.length === 0) continue;
      const check = (args: Record<string, unknown>) => {
        for (const arg of guarded) checkArgument(arg, args[arg.name]);
      };
      if (type === subscriptionType) {
        const subscribe = field.subscribe!;
        field.subscribe = (source, args, context, info) => {
          check(args);
          return subscribe(source, args, context, info);
        };
      } else {
        const resolve: GraphQLFieldResolver<unknown, unknown> = field.resolve ?? defaultFieldResolver;
        field.resolve = (source, args, context, info) => {
          check(args);
          return resolve(source, args, context, info);
        };
      }
    }
  }
}
