/** Byte helpers shared by the worker (execute.ts) and the main thread (job.ts). */

/** The chunks as one array: the only chunk itself when there is one (no copy), else a fresh copy. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
