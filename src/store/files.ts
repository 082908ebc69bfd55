/**
 * The files bundle: a task's input files (or an attempt's output files) stored as ONE blob, so a
 * task costs one blob read however many files it has. Binary, length-prefixed, little-endian:
 *
 *     "SPF1" | u32 count | count × ( u32 pathBytes | path (UTF-8) | u32 size | bytes )
 *
 * A bundle holding directories or symlinks (task inputs may) is "SPF2": each entry starts with a
 * kind byte (0 file, 1 directory, 2 symlink, whose bytes are its target). Plain files keep
 * "SPF1", so bundles written before SPF2 existed, and their digests, stay as they were.
 * Entries keep their order. The bundle's sha256 is what `filesDigest` names in the store.
 */
import type { FileEntry } from '../domain/index.js';

const MAGIC = 0x31465053; // "SPF1" read as a little-endian u32
const MAGIC_KINDS = 0x32465053; // "SPF2"
const KINDS = ['file', 'dir', 'symlink'] as const;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeFiles(files: readonly FileEntry[]): Uint8Array {
  const paths = files.map((f) => utf8.encode(f.path));
  const kinds = files.some((f) => f.kind !== undefined && f.kind !== 'file');
  let size = 8;
  for (let i = 0; i < files.length; i++) size += (kinds ? 9 : 8) + paths[i]!.length + files[i]!.bytes.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, kinds ? MAGIC_KINDS : MAGIC, true);
  view.setUint32(4, files.length, true);
  let at = 8;
  for (let i = 0; i < files.length; i++) {
    if (kinds) out[at++] = KINDS.indexOf(files[i]!.kind ?? 'file');
    const path = paths[i]!;
    const bytes = files[i]!.bytes;
    view.setUint32(at, path.length, true);
    out.set(path, at + 4);
    at += 4 + path.length;
    view.setUint32(at, bytes.length, true);
    out.set(bytes, at + 4);
    at += 4 + bytes.length;
  }
  return out;
}

/** Decodes a bundle made by encodeFiles. The file bytes are views into `bundle` (no copies). */
export function decodeFiles(bundle: Uint8Array): FileEntry[] {
  const view = new DataView(bundle.buffer, bundle.byteOffset, bundle.byteLength);
  const fail = (why: string): never => {
    throw new Error(`corrupt files bundle: ${why}`);
  };
  const magic = bundle.length < 8 ? 0 : view.getUint32(0, true);
  if (magic !== MAGIC && magic !== MAGIC_KINDS) fail('bad header');
  const count = view.getUint32(4, true);
  const files: FileEntry[] = [];
  let at = 8;
  const take = (n: number): Uint8Array => {
    if (at + n > bundle.length) fail('truncated');
    const part = bundle.subarray(at, at + n);
    at += n;
    return part;
  };
  const u32 = (): number => {
    if (at + 4 > bundle.length) fail('truncated');
    at += 4;
    return view.getUint32(at - 4, true);
  };
  for (let i = 0; i < count; i++) {
    const kind = magic === MAGIC_KINDS ? (KINDS[take(1)[0]!] ?? fail('unknown entry kind')) : 'file';
    const path = fromUtf8.decode(take(u32()));
    const bytes = take(u32());
    files.push(kind === 'file' ? { path, bytes } : { path, bytes, kind });
  }
  if (at !== bundle.length) fail('trailing bytes');
  return files;
}
