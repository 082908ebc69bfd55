/**
 * Time-ordered ids (UUID version 7, RFC 9562): 48 bits of Unix milliseconds, then a counter
 * that keeps ids from one process strictly increasing, then random bits. Tasks created in one
 * batch share created_at, so ordering by (created_at, id) keeps their submission order, and
 * new rows land at the right edge of the primary-key index.
 */
import { randomBytes } from 'node:crypto';

let lastMs = 0;
let counter = 0;

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
  const b = randomBytes(16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (counter >> 8);
  b[7] = counter & 0xff;
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Ids come from users; a malformed one is simply not found (rather than a database error). */
export { isUuid } from '../domain/index.js';
