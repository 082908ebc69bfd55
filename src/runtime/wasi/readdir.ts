/**
 * fd_readdir. The cookie is a position in [".", "..", ...entries in insertion order]; d_next of
 * each entry is the cookie of the one after it. The last entry is cut short when the buffer is
 * full, as the spec asks: a result equal to the buffer size tells the guest to read again (and
 * wasi-libc to grow its buffer when a single entry did not fit).
 */
import type { DirNode, Inode } from './inode.js';
import { encoder } from './memory.js';

/** dirent: d_next u64@0, d_ino u64@8, d_namlen u32@16, d_type u8@20, 3 bytes padding. */
const DIRENT = 24;
const scratch = new Uint8Array(DIRENT);
const sdv = new DataView(scratch.buffer);

export function readdir(dir: DirNode, out: Uint8Array, cookie: bigint): number {
  const first = BigInt.asUintN(64, cookie);
  const list: [string, Inode][] = [['.', dir], ['..', dir.parent], ...dir.entries];
  if (first >= BigInt(list.length)) return 0;
  let used = 0;
  for (let i = Number(first); i < list.length && used < out.length; i++) {
    const [name, node] = list[i]!;
    const nameBytes = encoder.encode(name);
    scratch.fill(0);
    sdv.setBigUint64(0, BigInt(i + 1), true);
    sdv.setBigUint64(8, BigInt(node.ino), true);
    sdv.setUint32(16, nameBytes.length, true);
    sdv.setUint8(20, node.type);
    used += put(out, used, scratch);
    used += put(out, used, nameBytes);
  }
  return used;
}

/** Copy as much of `src` as fits at `at`; returns the bytes copied. */
function put(out: Uint8Array, at: number, src: Uint8Array): number {
  const k = Math.min(src.length, out.length - at);
  if (k <= 0) return 0;
  out.set(k === src.length ? src : src.subarray(0, k), at);
  return k;
}


