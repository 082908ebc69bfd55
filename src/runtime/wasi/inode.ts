/**
 * Inodes of the in-memory filesystem. File contents live in a Uint8Array that may be larger
 * than `size`; the bytes past `size` are always zero, so extending a file (seek past the end,
 * set_size, allocate) never exposes stale data.
 */
import { FILETYPE } from './abi.js';

interface Common {
  atim: bigint;
  mtim: bigint;
  ctim: bigint;
  /** Descriptors open on this inode: its budget is released only when this is 0 and it is unlinked. */
  opens: number;
  released: boolean;
}

export class FileNode implements Common {
  readonly type = FILETYPE.REGULAR_FILE;
  nlink = 0;
  opens = 0;
  released = false;
  size: number;
  /**
   * `data` still aliases the caller's input bytes (copy-on-write): the request's FileEntry must
   * not change under the caller's feet, and copying every input up front would cost for nothing.
   */
  borrowed: boolean;
  /** Created, written, truncated, resized or moved by the guest: reported by result(). */
  modified: boolean;
  constructor(readonly ino: number, public data: Uint8Array, now: bigint, public atim = now, public mtim = now, public ctim = now) {
    this.size = data.length;
    this.borrowed = data.length > 0;
    this.modified = false;
  }
}

export class DirNode implements Common {
  readonly type = FILETYPE.DIRECTORY;
  nlink = 1;
  opens = 0;
  released = false;
  /** Insertion-ordered: readdir cookies are positions in this order. */
  readonly entries = new Map<string, Inode>();
  /** For readdir's "..": set when attached; the root is its own parent. */
  parent: DirNode = this;
  constructor(readonly ino: number, now: bigint, public atim = now, public mtim = now, public ctim = now) {}
}

export class LinkNode implements Common {
  readonly type = FILETYPE.SYMBOLIC_LINK;
  nlink = 0;
  opens = 0;
  released = false;
  readonly size: number;
  constructor(readonly ino: number, readonly target: string, readonly targetBytes: Uint8Array, now: bigint, public atim = now, public mtim = now, public ctim = now) {
    this.size = targetBytes.length;
  }
}

export type Inode = FileNode | DirNode | LinkNode;

/** Copy file bytes from `pos` into the views; returns bytes copied (0 at or past the end). */
export function readInto(f: FileNode, pos: number, dst: Uint8Array[]): number {
  let n = 0;
  for (const v of dst) {
    const at = pos + n;
    if (at >= f.size) break;
    const k = Math.min(v.length, f.size - at);
    v.set(f.data.subarray(at, at + k));
    n += k;
  }
  return n;
}

/** Make room for `need` bytes (exclusive end). The caller has checked the byte budget. */
export function ensureCapacity(f: FileNode, need: number): void {
  if (!f.borrowed && f.data.length >= need) return;
  const cap = f.borrowed ? need : Math.max(need, Math.min(f.data.length * 2, need + (64 << 20)));
  const grown = new Uint8Array(cap);
  grown.set(f.data.subarray(0, f.size));
  f.data = grown;
  f.borrowed = false;
}

export function writeFrom(f: FileNode, pos: number, src: Uint8Array[], total: number): void {
  ensureCapacity(f, pos + total);
  let at = pos;
  for (const v of src) {
    f.data.set(v, at);
    at += v.length;
  }
  if (at > f.size) f.size = at;
}

export function truncateTo(f: FileNode, size: number): void {
  if (size < f.size) {
    if (f.borrowed) {
      f.data = f.data.subarray(0, size);
    } else {
      f.data.fill(0, size, f.size); // keep the "zero past size" invariant
    }
  } else {
    ensureCapacity(f, size);
  }
  f.size = size;
}
