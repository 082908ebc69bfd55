/**
 * Custom scalars of the contract: DateTime (ISO-8601 string), BigInt (decimal string: fuel and
 * counters beyond 2^53), JSON (any JSON value; `env` is an object of strings). Each input scalar
 * refuses what the store cannot hold, like GraphQL's Int refuses what is not 32-bit: the error
 * names the variable path and the range (graphql-js adds `at "input.limits.fuel"`).
 */
import { GraphQLError, GraphQLScalarType, Kind, print, type ValueNode } from 'graphql';
import { DateTimeISOResolver, JSONResolver } from 'graphql-scalars';
import { INT64_MAX } from '../domain/index.js';

/**
 * The instants a DateTime input may name: years 0001-9999 in UTC, RFC 3339's four-digit years.
 * PostgreSQL's timestamptz holds more, but not through our drivers: Prisma sends year 0 and
 * earlier as an unparseable literal, and PGlite's driver refuses years past 9999 (both measured).
 */
const DATE_TIME_MIN = new Date('0001-01-01T00:00:00.000Z');
const DATE_TIME_MAX = new Date('9999-12-31T23:59:59.999Z');

/** True when the store can hold this instant (NaN, an Invalid Date, is outside too). */
export const inDateTimeRange = (ms: number): boolean => ms >= DATE_TIME_MIN.getTime() && ms <= DATE_TIME_MAX.getTime();

const DATE_TIME_RANGE = `between ${DATE_TIME_MIN.toISOString()} and ${DATE_TIME_MAX.toISOString()} (UTC)`;

const storable = (date: Date, nodes?: ValueNode): Date => {
  if (!inDateTimeRange(date.getTime())) throw new GraphQLError(`DateTime must be ${DATE_TIME_RANGE}`, { nodes, extensions: { min: DATE_TIME_MIN.toISOString(), max: DATE_TIME_MAX.toISOString() } });
  return date;
};

const dateTime = DateTimeISOResolver.toConfig();

/**
 * graphql-scalars' own refusal ("DateTime cannot represent an invalid date-time-string tomorrow")
 * does not say what would do: this one names the format, with an example, and what was given.
 */
function parsed<T>(parse: () => T, given: () => string, nodes?: ValueNode): T {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof GraphQLError)) throw err;
    throw new GraphQLError(`DateTime must be an ISO-8601 date and time with a time zone, e.g. 2026-01-01T12:00:00Z or 2026-01-01T13:00:00+01:00 (got ${given()})`, {
      nodes,
      extensions: { format: 'ISO-8601' },
    });
  }
}

/** graphql-scalars' DateTimeISO (serialises to an ISO string) under the contract's name. */
export const DateTimeScalar = new GraphQLScalarType({
  ...dateTime,
  name: 'DateTime',
  description: `An instant as an ISO-8601 string, e.g. 2026-01-01T12:00:00.000Z; inputs ${DATE_TIME_RANGE}.`,
  parseValue: (value) => storable(parsed(() => dateTime.parseValue!(value) as Date, () => (value instanceof Date ? String(value) : preview(value)))),
  // A literal as it was written: "tomorrow" quoted, 5 bare.
  parseLiteral: (ast, variables) => storable(parsed(() => dateTime.parseLiteral!(ast, variables) as Date, () => clip(print(ast)), ast), ast),
});

// Rebuilt with this module's graphql: a runner that loads graphql-scalars as CommonJS would
// otherwise hand type-graphql a GraphQLScalarType from a second copy of graphql.
export const JSONScalar = new GraphQLScalarType(JSONResolver.toConfig());

/** PostgreSQL's bigint, the column type of every BigInt: INT64_MIN to INT64_MAX. */
const INT64_MIN = -INT64_MAX - 1n;

/** Sign, leading zeros, then at most 19 digits: BigInt() of a megabyte of digits would cost the event loop ~0.1 s. */
const DECIMAL = /^(-?)0*(\d{1,19})$/;

const clip = (text: string): string => (text.length > 40 ? `${text.slice(0, 40)}…` : text);

const preview = (value: unknown): string => {
  const text = typeof value === 'bigint' ? value.toString() : (JSON.stringify(value) ?? String(value));
  return clip(text);
};

const parseBigInt = (value: unknown): bigint => {
  let n: bigint | undefined;
  if (typeof value === 'bigint') n = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value);
  else if (typeof value === 'string') {
    const m = DECIMAL.exec(value.trim());
    if (m) n = BigInt(`${m[1]}${m[2]}`);
    else if (!/^-?\d+$/.test(value.trim())) throw new GraphQLError(`BigInt must be an integer or a decimal string, got ${preview(value)}`);
  } else throw new GraphQLError(`BigInt must be an integer or a decimal string, got ${preview(value)}`);
  if (n === undefined || n < INT64_MIN || n > INT64_MAX) {
    throw new GraphQLError(`BigInt must be a 64-bit integer, between ${INT64_MIN} and ${INT64_MAX}; got ${preview(value)}`, {
      extensions: { min: INT64_MIN.toString(), max: INT64_MAX.toString() },
    });
  }
  return n;
};

export const BigIntScalar = new GraphQLScalarType<bigint, string>({
  name: 'BigInt',
  description: `A 64-bit integer (${INT64_MIN} to ${INT64_MAX}) as a decimal string (inputs also accept a safe integer number).`,
  serialize: (value) => parseBigInt(value).toString(),
  parseValue: parseBigInt,
  parseLiteral(ast) {
    if (ast.kind === Kind.INT || ast.kind === Kind.STRING) return parseBigInt(ast.value);
    throw new GraphQLError('BigInt must be an integer or a decimal string', { nodes: ast });
  },
});
