/**
 * Page cursors of `tasks`: opaque to clients, base64url inside of "<createdAt in ms>:<id>" for the
 * default order (createdAt desc), and of "<order>:<key>:<id>" for the others (order: a code of
 * field and direction; key: the row's sort key, empty when it has none). Decoded and checked here,
 * at the edge: the store gets a TaskCursor of the order asked for, whose key it can hold and whose
 * id is a UUID; anything else, a cursor of another order included, is BAD_USER_INPUT naming the argument.
 */
import { badInput, UUID_PATTERN } from '../domain/index.js';
import { cursorValue, type TaskCursor, type TaskOrder, type TaskRow } from '../services/types.js';
import { inDateTimeRange } from './scalars.js';

/** Ours are at most 76 characters; a longer one is not ours and is not decoded. */
const MAX_CURSOR = 128;
/** Our ids are lowercase, so a cursor's is matched exactly (no `i` flag). */
const DECODED = new RegExp(`^(?:([cfdp][ad]):)?(-?\\d{1,16})?:(${UUID_PATTERN})$`);

const FIELD_CODES = { createdAt: 'c', finishedAt: 'f', duration: 'd', priority: 'p' } as const;
const codeOf = (o: TaskOrder) => `${FIELD_CODES[o.field]}${o.direction === 'asc' ? 'a' : 'd'}`;
/** The default order's cursors carry no code: cursors handed out before orderBy existed still work. */
const DEFAULT_CODE = 'cd';

export function encodeCursor(order: TaskOrder, row: TaskRow): string {
  const code = codeOf(order);
  const value = cursorValue(order, row);
  const text = code === DEFAULT_CODE ? `${value}:${row.id}` : `${code}:${value ?? ''}:${row.id}`;
  return Buffer.from(text).toString('base64url');
}

export function decodeCursor(field: string, cursor: string, order: TaskOrder): TaskCursor {
  // Node's base64url decoder skips what it does not know; only a cursor that re-encodes to itself is ours.
  const text = cursor.length <= MAX_CURSOR ? Buffer.from(cursor, 'base64url').toString('latin1') : '';
  const m = Buffer.from(text, 'latin1').toString('base64url') === cursor ? DECODED.exec(text) : null;
  const code = m?.[1] ?? DEFAULT_CODE;
  const value = m?.[2] === undefined ? null : Number(m[2]);
  if (!m || !validKey(code, value)) throw badInput(field, 'is not a cursor from this API (pass a cursor or pageInfo.endCursor as it came)');
  if (code !== codeOf(order)) throw badInput(field, 'is a cursor of another orderBy: pass the orderBy its page was read with, or start again without after');
  return { value, id: m[3]! };
}

/** Whether a decoded key is one a row of that order can have (createdAt and priority always have one). */
function validKey(code: string, value: number | null): boolean {
  if (value === null) return code[0] === 'f' || code[0] === 'd';
  if (code[0] === 'c' || code[0] === 'f') return inDateTimeRange(value);
  if (code[0] === 'p') return Number.isSafeInteger(value) && Math.abs(value) <= 2 ** 31;
  return Number.isSafeInteger(value);
}
