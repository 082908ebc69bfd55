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
