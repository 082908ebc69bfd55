/**
 * Time-ordered ids (UUID version 7, RFC 9562): 48 bits of Unix milliseconds, then a counter
 * that keeps ids from one process strictly increasing, then random bits. Tasks created in one
 * batch share created_at, so ordering by (created_at, id) keeps their submission order, and
 * new rows land at the right edge of the primary-key index.
 *
 * The random bits come from a pool refilled from the CSPRNG 512 ids at a time, as Node's own
 * randomUUID does: one randomBytes(16) per id was a syscall-backed RNG call, a Buffer and a hex
 * string each, ~2 % of a busy node's main thread.
 */
import { randomFillSync } from 'node:crypto';

let lastMs = 0;
let counter = 0;

/** Random bytes an id takes (bytes 8-15; the variant bits are overwritten in the first). */
const RANDOM_BYTES = 8;
const pool = Buffer.allocUnsafeSlow(RANDOM_BYTES * 512);
let used = pool.length;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function uuidv7(): string {
  let ms = Date.now();
  if (ms <= lastMs) {
    // Same (or an earlier, after a clock step) millisecond: count up, borrowing the next ms when full.
    ms = lastMs;
    counter = (counter + 1) & 0xfff;
    if (counter === 0) ms = ++lastMs;
  } else {
    lastMs = ms;
    counter = 0;
  }
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const r = used;
  used += RANDOM_BYTES;
  const time = ms.toString(16).padStart(12, '0');
  return (
    `${time.slice(0, 8)}-${time.slice(8)}-${HEX[0x70 | (counter >> 8)]}${HEX[counter & 0xff]}-` +
    `${HEX[0x80 | (pool[r]! & 0x3f)]}${HEX[pool[r + 1]!]}-` +
    `${HEX[pool[r + 2]!]}${HEX[pool[r + 3]!]}${HEX[pool[r + 4]!]}${HEX[pool[r + 5]!]}${HEX[pool[r + 6]!]}${HEX[pool[r + 7]!]}`
  );
}

/** Ids come from users; a malformed one is simply not found (rather than a database error). */
export { isUuid } from '../domain/index.js';
