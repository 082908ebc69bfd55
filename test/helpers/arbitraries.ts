/**
 * fast-check arbitraries for GraphQL arguments, derived from the schema: every input type, field
 * and scalar gets a mix of plausible and hostile values (NUL, lone surrogates, huge, negative and
 * fractional numbers, 2^63 and 2^64, long strings, empty strings, dates the store cannot hold, bad
 * base64, deep JSON). A `Hints` table adds values that reach further (a real agent name, an id
 * that exists), keyed by schema coordinate: `SubmitTaskInput.agent`, `cancelTask.id`.
 */
import fc from 'fast-check';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';

export type Hints = Record<string, fc.Arbitrary<unknown>>;

const HOSTILE_STRINGS = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udc00y', '\udc00\ud800', '\ud83d\ude00', 'e\u0301', '\u202e\u2066', '\ufeff', '\uffff',
  '\u{10ffff}', '..', '../etc/passwd', '/', '//', '%s%n', "'; DROP TABLE task; --", '\\', '"', '=', 'A=B', '$1', 'null', '__proto__',
  'constructor', 'NaN', '-0', '1e309', '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', `spd_${'x'.repeat(40)}`,
  '<script>', '\r\n', '\t', 'hello', 'AAAA', '====', '😀'.repeat(255), 'k'.repeat(256),
];

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const benignText = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);

/** Long text within the request limit, sometimes with a NUL or a lone surrogate at its end. */
const longText = fc
  .tuple(fc.integer({ min: 1000, max: 20_000 }), fc.constantFrom('', 'é', '😀', '\u0000', '\ud800'))
  .map(([n, tail]) => 'x'.repeat(n) + tail);

const hostileText = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: codeUnit, maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: longText },
  { weight: 1, arbitrary: fc.base64String({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.bigInt().map(String) },
);

export const anyText = fc.oneof({ weight: 1, arbitrary: benignText }, { weight: 2, arbitrary: hostileText });

const INT_EDGES = [0, 1, -1, 2, 100, 1000, 65_536, 300_000, 300_001, 2 ** 31 - 1, -(2 ** 31)];
const NOT_INT32 = [2 ** 31, -(2 ** 31) - 1, 2 ** 53, 1.5, -0.5, 1e300];
const anyInt = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 1000 }) },
  { weight: 2, arbitrary: fc.constantFrom(...INT_EDGES) },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(...NOT_INT32, '7', true) },
);

const FLOAT_EDGES = [0, -0, 1, -1, 65_536, 65_536.5, 2 ** 30, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 1e300, Number.MAX_VALUE, 5e-324];
const anyFloat = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 1 << 26 }) },
  { weight: 2, arbitrary: fc.constantFrom(...FLOAT_EDGES) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
);

const BIGINT_EDGES = [
  '0', '1', '-1', '9223372036854775807', '9223372036854775808', '18446744073709551616', '-9223372036854775808', '-9223372036854775809',
  ' 7 ', '1e3', '0x10', '1.5', '', '٣', `${'0'.repeat(30)}1`, '9'.repeat(100), '9'.repeat(100_000),
];
const anyBigInt = fc.oneof(
  { weight: 3, arbitrary: fc.bigInt({ min: 1n, max: 10n ** 9n }).map(String) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(...BIGINT_EDGES, 2 ** 53, 2 ** 64, 1.5, -3) },
  { weight: 2, arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String) },
);

const DATE_EDGES = [
  '0000-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '0001-01-01T00:00:00+14:00', '9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999-14:00',
  '2016-12-31T23:59:60Z', '2021-02-29T00:00:00Z', '1970-01-01T00:00:00Z', '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z',
  '2020-01-01', '2020-01-01T00:00:00', '2020-01-01T00:00:00.123456789Z', 'now', '',
];
const anyDateTime = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -1e10, max: 1e11 }).map((d) => new Date(Date.now() + d).toISOString()) },
  { weight: 2, arbitrary: fc.constantFrom(...DATE_EDGES) },
  { weight: 1, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) },
);

/**
 * Stands for a JSON array 100 000 levels deep. JSON.stringify (and fast-check's printer) would
 * overflow the stack on the real thing, so `toJson` writes it out as text.
 */
export const DEEP = { [fc.toStringMethod]: () => '[[[…100000 levels…]]]' };
const DEEP_TEXT = `${'['.repeat(100_000)}"x"${']'.repeat(100_000)}`;
const DEEP_MARK = '\u0000deep\u0000';

/** JSON.stringify, with DEEP written out. */
export const toJson = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (v === DEEP ? DEEP_MARK : v)).replaceAll(JSON.stringify(DEEP_MARK), DEEP_TEXT);
const anyJson = fc.oneof(
  { weight: 3, arbitrary: fc.dictionary(anyText, anyText, { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(benignText.map((s) => s.toUpperCase()), benignText, { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(DEEP, { A: DEEP }, [], 'A=1', 42, { '': 'x' }, { 'A=B': 'c' }) },
);

const SCALARS: Record<string, fc.Arbitrary<unknown>> = {
  String: anyText,
  ID: fc.oneof(fc.uuid(), anyText),
  Int: anyInt,
  Float: anyFloat,
  Boolean: fc.boolean(),
  BigInt: anyBigInt,
  DateTime: anyDateTime,
  JSON: anyJson,
};

/** A value for a declared input type at `coordinate` (e.g. `SubmitTaskInput.limits`). */
export function arbitraryFor(type: GraphQLInputType, coordinate: string, hints: Hints): fc.Arbitrary<unknown> {
  const hint = hints[coordinate];
  const generic = genericFor(type, hints);
  return hint ? fc.oneof({ weight: 3, arbitrary: hint }, { weight: 1, arbitrary: generic }) : generic;
}

function genericFor(type: GraphQLInputType, hints: Hints): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return genericFor(type.ofType, hints);
  if (isListType(type)) return fc.array(genericFor(type.ofType as GraphQLInputType, hints), { maxLength: 6 });
  if (isEnumType(type)) {
    const values = type.getValues().map((v) => v.name);
    return fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...values) }, { weight: 1, arbitrary: anyText });
  }
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    const parts = fields.map((f) => {
      const value = arbitraryFor(f.type, `${type.name}.${f.name}`, hints);
      // Optional fields are mostly left out, so a case has few odd values and often gets through.
      return isNonNullType(f.type) ? value : fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: nullable(value) });
    });
    return fc.tuple(...parts).map((values) => Object.fromEntries(fields.map((f, i) => [f.name, values[i]]).filter(([, v]) => v !== undefined)));
  }
  if (isScalarType(type)) {
    const scalar = SCALARS[type.name];
    if (!scalar) throw new Error(`no arbitrary for the scalar ${type.name}: add one to test/helpers/arbitraries.ts`);
    return scalar;
  }
  throw new Error(`unexpected input type ${String(getNamedType(type))}`);
}

const nullable = (a: fc.Arbitrary<unknown>) => fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 6, arbitrary: a });

/** The variables of one call of `field` (an operation's root field): `{ input: …, id: … }`. */
export function argumentsFor(field: GraphQLField<unknown, unknown>, hints: Hints): fc.Arbitrary<Record<string, unknown>> {
  const parts = field.args.map((a: GraphQLArgument) => {
    const value = arbitraryFor(a.type, `${field.name}.${a.name}`, hints);
    return isNonNullType(a.type) ? value : fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: nullable(value) });
  });
  return fc.tuple(...parts).map((values) => Object.fromEntries(field.args.map((a, i) => [a.name, values[i]]).filter(([, v]) => v !== undefined)));
}

/** `mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { __typename } }` for a root field. */
export function operationFor(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): string {
  const defs = field.args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const args = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const selection = isScalarType(getNamedType(field.type)) || isEnumType(getNamedType(field.type)) ? '' : ' { __typename }';
  return `${kind}${defs ? ` (${defs})` : ''} { ${field.name}${args ? `(${args})` : ''}${selection} }`;
}
