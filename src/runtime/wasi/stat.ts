/** filestat records and timestamp updates, shared by the fd_* and path_* calls. */
import { FILETYPE, FSTFLAGS } from './abi.js';
import type { Clock } from './clock.js';
import { E } from './errno.js';
import type { Inode } from './inode.js';
import type { GuestMemory } from './memory.js';

/** filestat: dev@0 ino@8 filetype@16 nlink@24 size@32 atim@40 mtim@48 ctim@56 (64 bytes). */
export function writeFilestat(mem: GuestMemory, ptr: number, node: Inode | null): void {
  mem.range(ptr, 64).fill(0);
  const dv = mem.dv();
  const p = ptr >>> 0;
  if (node === null) {
    // stdio: a character device with no size and no times (it is not a file we keep).
    dv.setUint8(p + 16, FILETYPE.CHARACTER_DEVICE);
    dv.setBigUint64(p + 24, 1n, true);
    return;
  }
  dv.setBigUint64(p + 8, BigInt(node.ino), true);
  dv.setUint8(p + 16, node.type);
  dv.setBigUint64(p + 24, BigInt(node.nlink), true);
  dv.setBigUint64(p + 32, BigInt(node.type === FILETYPE.DIRECTORY ? 4096 : node.size), true);
  dv.setBigUint64(p + 40, node.atim, true);
  dv.setBigUint64(p + 48, node.mtim, true);
  dv.setBigUint64(p + 56, node.ctim, true);
}

/** fd/path_filestat_set_times. Asking for a value and "now" for the same field is EINVAL. */
export function setTimes(clock: Clock, node: Inode | null, atim: bigint, mtim: bigint, flags: number): void {
  if (flags & ~0xf) throw E.INVAL;
  if ((flags & FSTFLAGS.ATIM && flags & FSTFLAGS.ATIM_NOW) || (flags & FSTFLAGS.MTIM && flags & FSTFLAGS.MTIM_NOW)) {
    throw E.INVAL;
  }
  if (node === null) return; // stdio keeps no times
  const now = clock.now();
  // i64 parameters arrive signed: reinterpret as the u64 timestamps they are.
  if (flags & FSTFLAGS.ATIM) node.atim = BigInt.asUintN(64, atim);
  if (flags & FSTFLAGS.ATIM_NOW) node.atim = now;
  if (flags & FSTFLAGS.MTIM) node.mtim = BigInt.asUintN(64, mtim);
  if (flags & FSTFLAGS.MTIM_NOW) node.mtim = now;
  node.ctim = now;
}

/** A u64 file offset/size parameter (arrives as a signed BigInt) as a safe JS number, or EINVAL. */
export function offsetOf(v: bigint): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw E.INVAL;
  return Number(v);
}
