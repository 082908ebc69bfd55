/**
 * task.search_text, what tasks(filter: { search }) matches (migration task_search): a capped UTF-8
 * copy of a task's inputs, a separator, then its last attempt's output. Built here in JavaScript
 * and sent as one more array parameter of the queue's insert and finish statements, so search
 * costs the write path no statement of its own; the caps bound what each row adds to the trigram
 * index (a GIN entry per distinct trigram: a few KiB of text is a few thousand entries at most).
 */
import type { AttemptResult, NewTask } from './types.js';

/** Between the input part and the output part; never inside either (control characters are dropped). */
export const SEARCH_SEPARATOR = '\u001e';
/** Bytes of the input part: agent name, args, stdin (stdin gets what the name and args leave). */
export const SEARCH_INPUT_BYTES = 2048;
/** Bytes of stdout, and of stderr, in the output part. */
export const SEARCH_STREAM_BYTES = 1024;
/** Bytes of the trap message plus the error in the output part. */
export const SEARCH_ERROR_BYTES = 512;

const decoder = new TextDecoder('utf-8');
// C0 controls but tab and newline, DEL, and the replacement character of a sequence cut at the cap
// or of bytes that are not UTF-8: none is worth matching, and NUL cannot be stored in text at all.
const NOT_SEARCHED = /[\u0000-\u0008\u000b-\u001f\u007f\ufffd]+/g;

/** The first `max` bytes of `bytes` as text (a sequence cut at the cap is dropped, not guessed). */
function head(bytes: Uint8Array, max: number): string {
  if (max <= 0 || bytes.length === 0) return '';
  return decoder.decode(bytes.subarray(0, max)).replace(NOT_SEARCHED, ' ').trim();
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/**
 * The input part, written at insert: "<id's last group> <agent name> <args…> <stdin head>" ending in
 * SEARCH_SEPARATOR. The id's last group (12 hex digits) holds what the dashboard shows of an id (its
 * last 8 characters): a UUIDv7 begins with its time, so its start is what ids share, not what tells
 * them apart, and the primary key answers a full id or its start anyway (idPrefixRange).
 */
export function inputSearchText(task: NewTask, id?: string): string {
  const tail = id ? id.slice(id.lastIndexOf('-') + 1).toLowerCase() : '';
  const named = head(utf8([tail, task.agentName ?? '', ...task.args].filter((s, i) => i > 0 || s).join(' ')), SEARCH_INPUT_BYTES);
  const room = SEARCH_INPUT_BYTES - Buffer.byteLength(named);
  return `${[named, head(task.stdin, room - 1)].filter(Boolean).join(' ')}${SEARCH_SEPARATOR}`;
}

/** The output part, written by the finish after the separator: "<stdout head> <trap> <error> <stderr head>". */
export function outputSearchText(r: Pick<AttemptResult, 'stdout' | 'stderr' | 'trapMessage' | 'error'>): string {
  const errors = head(utf8([r.trapMessage, r.error].filter(Boolean).join(' ')), SEARCH_ERROR_BYTES);
  return [head(r.stdout, SEARCH_STREAM_BYTES), errors, head(r.stderr, SEARCH_STREAM_BYTES)].filter(Boolean).join(' ');
}

/**
 * The search argument as an ILIKE pattern matching it anywhere (case-insensitive): its own `%`,
 * `_` and `\` match themselves.
 */
export const containsPattern = (search: string): string => `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

const UUID_SHAPE = 'hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh';

/**
 * When `search` can begin a task id (hex digits and dashes where a UUID has them): the lowest and
 * highest ids that begin with it, a range the primary key reads directly. Otherwise null.
 */
export function idPrefixRange(search: string): [low: string, high: string] | null {
  const s = search.toLowerCase();
  if (s.length > UUID_SHAPE.length) return null;
  for (let i = 0; i < s.length; i++) {
    const ok = UUID_SHAPE[i] === '-' ? s[i] === '-' : /[0-9a-f]/.test(s[i]!);
    if (!ok) return null;
  }
  const fill = (c: string) => s + [...UUID_SHAPE.slice(s.length)].map((x) => (x === '-' ? '-' : c)).join('');
  return [fill('0'), fill('f')];
}
