/**
 * Values to and from node-postgres on the queue's lanes, cheaper than its defaults. Measured with a
 * sampling heap profile of the e2e throughput phase: pg's `arrayString` (a JS array parameter
 * turned into an array literal by `+=` and two regex replaces per element) and `postgres-date`
 * (a timestamptz read back, parsed with three regular expressions) made a quarter of everything
 * the main thread allocated. The queue sends a batch as one array per column (unnest) and reads
 * every timestamp of the rows it writes, so both run for every task.
 *
 * What each does is the same as pg's, for the values the queue sends and the text PostgreSQL
 * writes; anything else goes to pg's own code.
 */
import pg from 'pg';

const TIMESTAMPTZ = 1184;
const defaultTimestamptz = pg.types.getTypeParser(TIMESTAMPTZ, 'text') as (text: string) => Date | number | null;

const digit = (s: string, i: number) => s.charCodeAt(i) - 48;
const two = (s: string, i: number) => digit(s, i) * 10 + digit(s, i + 1);
const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * A timestamptz as PostgreSQL writes it with DateStyle ISO (`2026-12-06 01:47:12.123456+00`, the
 * offset `±HH`, `±HH:MM` or `±HH:MM:SS`), parsed by position. Years outside 1000–9999, BC dates,
 * infinities and any other shape go to postgres-date. Sub-millisecond digits are dropped, as
 * postgres-date does (Date holds whole milliseconds).
 */
export function parseTimestamptz(s: string): Date | number | null {
  const n = s.length;
  if (n < 22 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 32 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58 || s.charCodeAt(0) === 48) {
    return defaultTimestamptz(s);
  }
  for (const i of DIGITS) if (!isDigit(s.charCodeAt(i))) return defaultTimestamptz(s);
  let i = 19;
  let ms = 0;
  if (s.charCodeAt(i) === 46) {
    let scale = 100;
    i++;
    while (i < n && isDigit(s.charCodeAt(i))) {
      ms += digit(s, i) * scale;
      scale /= 10;
      i++;
    }
    ms = Math.trunc(ms);
  }
  const sign = s.charCodeAt(i);
  if ((sign !== 43 && sign !== 45) || !isDigit(s.charCodeAt(i + 1)) || !isDigit(s.charCodeAt(i + 2))) return defaultTimestamptz(s);
  let offset = two(s, i + 1) * 3_600_000;
  i += 3;
  for (const unit of [60_000, 1_000]) {
    if (i === n) break;
    if (s.charCodeAt(i) !== 58 || !isDigit(s.charCodeAt(i + 1)) || !isDigit(s.charCodeAt(i + 2))) return defaultTimestamptz(s);
    offset += two(s, i + 1) * unit;
    i += 3;
  }
  if (i !== n) return defaultTimestamptz(s); // " BC", or something we do not know
  const year = two(s, 0) * 100 + two(s, 2);
  const utc = Date.UTC(year, two(s, 5) - 1, two(s, 8), two(s, 11), two(s, 14), two(s, 17), ms);
  return new Date(sign === 43 ? utc - offset : utc + offset);
}
const DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];

/** For pg's `types` option: our timestamptz parser, pg's for everything else. */
export const queueTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMPTZ && format !== 'binary') return parseTimestamptz;
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

/**
 * Parameters as pg would send them, with flat arrays of strings, numbers, booleans, bigints and
 * Dates (with nulls) written as array literals here, and Dates as ISO-8601 in UTC (pg writes local
 * time with its offset: the same instant, and every timestamp column here is timestamptz). Any
 * other parameter (a Buffer, nested arrays, an object) is passed on for pg to prepare.
 */
export function encodeParams(params: unknown[] | undefined): unknown[] | undefined {
  if (!params) return params;
  let out: unknown[] | undefined;
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    const encoded = Array.isArray(p) ? arrayLiteral(p) : p instanceof Date ? dateText(p) : p;
    if (encoded !== p) (out ??= params.slice())[i] = encoded;
  }
  return out ?? params;
}

function dateText(d: Date): string | Date {
  // toISOString throws on an invalid date (NaN fails both comparisons) and writes years past 9999
  // as +0YYYYY: pg's own code then.
  // Years 1000–9999 only: toISOString writes them as four digits, which PostgreSQL reads unchanged.
  const t = d.getTime();
  return t >= MIN_ISO_MS && t <= MAX_ISO_MS ? d.toISOString() : d;
}
const MIN_ISO_MS = Date.parse('1000-01-01T00:00:00.000Z');
const MAX_ISO_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** An array literal (`{"a","b",NULL}`) for a flat array, or the array itself for pg to handle. */
export function arrayLiteral(values: unknown[]): string | unknown[] {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) parts[i] = 'NULL';
    else if (typeof v === 'string') parts[i] = v.indexOf('"') < 0 && v.indexOf('\\') < 0 ? `"${v}"` : `"${v.replace(ESCAPE, '\\$&')}"`;
    else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') parts[i] = String(v);
    else if (v instanceof Date) {
      const text = dateText(v);
      if (typeof text !== 'string') return values;
      parts[i] = text;
    } else return values;
  }
  return `{${parts.join(',')}}`;
}
const ESCAPE = /["\\]/g;
