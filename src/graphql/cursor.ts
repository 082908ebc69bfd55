/**
 * Page cursors of `tasks`: opaque to clients, base64url of "<createdAt in ms>:<id>" inside. Decoded
 * and checked here, at the edge: the store gets a TaskCursor whose time it can hold and whose id
 * is a UUID, and anything else is BAD_USER_INPUT naming the argument.
 */
import { badInput, UUID_PATTERN } from '../domain/index.js';
import type { TaskCursor, TaskRow } from '../services/types.js';
import { inDateTimeRange } from './scalars.js';

/** Ours are 70 characters; a longer one is not ours and is not decoded. */
const MAX_CURSOR = 128;
/** Our ids are lowercase, so a cursor's is matched exactly (no `i` flag). */
const DECODED = new RegExp(`^(-?\\d{1,16}):(${UUID_PATTERN})$`);

export const encodeCursor = (t: Pick<TaskRow, 'createdAt' | 'id'>): string => Buffer.from(`${t.createdAt.getTime()}:${t.id}`).toString('base64url');

export function decodeCursor(field: string, cursor: string): TaskCursor {
  // Node's base64url decoder skips what it does not know; only a cursor that re-encodes to itself is ours.
  const text = cursor.length <= MAX_CURSOR ? Buffer.from(cursor, 'base64url').toString('latin1') : '';
  const m = Buffer.from(text, 'latin1').toString('base64url') === cursor ? DECODED.exec(text) : null;
  const ms = m ? Number(m[1]) : NaN;
  if (!m || !inDateTimeRange(ms)) throw badInput(field, 'is not a cursor from this API (pass a cursor or pageInfo.endCursor as it came)');
  return { createdAt: new Date(ms), id: m[2]! };
}
