/** Bytes as the API shows them: base64, lossy UTF-8 for display, strict UTF-8 or null. */

export const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

const lossy = new TextDecoder('utf-8');
const strict = new TextDecoder('utf-8', { fatal: true });

export const utf8Lossy = (bytes: Uint8Array): string => lossy.decode(bytes);

export function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return strict.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * The first `max` bytes of `bytes` as text, for a preview: null when they are not UTF-8 or hold a
 * NUL (a binary file). A character that the cap cuts in two is left out, not refused.
 */
export function textPreview(bytes: Uint8Array, max: number): { text: string | null; truncated: boolean } {
  const truncated = bytes.length > max;
  const head = bytes.subarray(0, max);
  let text: string | null;
  try {
    // stream: an incomplete sequence at the end is held back (the rest of the file would complete it).
    text = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: truncated });
  } catch {
    text = null;
  }
  return { text: text !== null && text.includes('\u0000') ? null : text, truncated };
}
