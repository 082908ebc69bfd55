/**
 * Custom scalars of the contract: DateTime (ISO-8601 string), BigInt (decimal string: fuel and
 * counters beyond 2^53), JSON (any JSON value; `env` is an object of strings).
 */
import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { DateTimeISOResolver, JSONResolver } from 'graphql-scalars';

/** graphql-scalars' DateTimeISO (serialises to an ISO string) under the contract's name. */
export const DateTimeScalar = new GraphQLScalarType({
  ...DateTimeISOResolver.toConfig(),
  name: 'DateTime',
  description: 'An instant as an ISO-8601 string, e.g. 2026-01-01T12:00:00.000Z.',
});

// Rebuilt with this module's graphql: a runner that loads graphql-scalars as CommonJS would
// otherwise hand type-graphql a GraphQLScalarType from a second copy of graphql.
export const JSONScalar = new GraphQLScalarType(JSONResolver.toConfig());

const parseBigInt = (value: unknown): bigint => {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return BigInt(value.trim());
  throw new GraphQLError(`BigInt must be an integer or a decimal string, got ${JSON.stringify(value)}`);
};

export const BigIntScalar = new GraphQLScalarType<bigint, string>({
  name: 'BigInt',
  description: 'A 64-bit integer as a decimal string (inputs also accept a safe integer number).',
  serialize: (value) => parseBigInt(value).toString(),
  parseValue: parseBigInt,
  parseLiteral(ast) {
    if (ast.kind === Kind.INT || ast.kind === Kind.STRING) return parseBigInt(ast.value);
    throw new GraphQLError('BigInt must be an integer or a decimal string', { nodes: ast });
  },
});
