/** Bytes as callers send them: strict base64 (checked before decoding) and UTF-8 text. */
import { badInput } from '../domain/index.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decoded size of a base64 string without decoding it (for limit checks before allocating). */
export const base64Size = (s: string): number => {
  const clean = s.replace(/\s+/g, '');
  return Math.floor((clean.length * 3) / 4) - (clean.endsWith('==') ? 2 : clean.endsWith('=') ? 1 : 0);
};

/** Standard base64 (whitespace ignored). Node's decoder skips garbage silently, so check first. */
export function decodeBase64(field: string, s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  if (clean.length % 4 !== 0 || !BASE64.test(clean)) throw badInput(field, 'is not valid base64');
  const buf = Buffer.from(clean, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
