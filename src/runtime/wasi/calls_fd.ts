/** fd_* calls: stdio, regular files and directories of the in-memory filesystem. */
import { FDFLAGS, PREOPENTYPE_DIR, RIGHTS, WHENCE } from './abi.js';
import { E } from './errno.js';
import { need, STDOUT } from './fds.js';
import { readInto } from './inode.js';
import { encoder, scatter, totalLength } from './memory.js';
import { readdir } from './readdir.js';
import type { State } from './state.js';
import { offsetOf, setTimes, writeFilestat } from './stat.js';

export const fdCalls = {
  fd_write(s: State, fd: number, iovs: number, n: number, nwritten: number): number {
    const f = s.fds.get(fd);
    if (f.node === null) need(f, RIGHTS.FD_WRITE);
    const node = f.node === null ? null : s.fds.file(fd, RIGHTS.FD_WRITE).node;
    s.mem.check(nwritten, 4);
    const views = s.mem.iovecs(iovs, n);
    let total: number;
    if (node === null) {
      // stdin lacks FD_WRITE: only stdout and stderr get here.
      total = s.out.write(f.stdio === STDOUT ? 'stdout' : 'stderr', views);
    } else {
      total = totalLength(views);
      if (f.flags & FDFLAGS.APPEND) f.pos = node.size;
      s.fds.fs().write(node, f.pos, views, total);
      f.pos += total;
    }
    s.mem.setU32(nwritten, total);
    return E.SUCCESS;
  },

  fd_read(s: State, fd: number, iovs: number, n: number, nread: number): number {
    const f = s.fds.get(fd);
    if (f.node === null) need(f, RIGHTS.FD_READ);
    const node = f.node === null ? null : s.fds.file(fd, RIGHTS.FD_READ).node;
    s.mem.check(nread, 4);
    const views = s.mem.iovecs(iovs, n);
    let got: number;
    if (node === null) {
      // stdout and stderr lack FD_READ: only stdin gets here.
      got = scatter(views, s.stdin.subarray(s.stdinPos));
      s.stdinPos += got;
    } else {
      got = readInto(node, f.pos, views);
      f.pos += got;
    }
    s.mem.setU32(nread, got);
    return E.SUCCESS;
  },

  fd_pread(s: State, fd: number, iovs: number, n: number, offset: bigint, nread: number): number {
    const { node } = s.fds.file(fd, RIGHTS.FD_READ | RIGHTS.FD_SEEK, E.SPIPE);
    s.mem.setU32(nread, readInto(node, offsetOf(offset), s.mem.iovecs(iovs, n)));
    return E.SUCCESS;
  },

  fd_pwrite(s: State, fd: number, iovs: number, n: number, offset: bigint, nwritten: number): number {
    const { node } = s.fds.file(fd, RIGHTS.FD_WRITE | RIGHTS.FD_SEEK, E.SPIPE);
    s.mem.check(nwritten, 4);
    const views = s.mem.iovecs(iovs, n);
    const total = totalLength(views);
    s.fds.fs().write(node, offsetOf(offset), views, total);
    s.mem.setU32(nwritten, total);
    return E.SUCCESS;
  },

  fd_seek(s: State, fd: number, offset: bigint, whence: number, newOffset: number): number {
    // FD_TELL suffices for a seek that leaves the offset alone (whence cur, offset 0).
    const right = whence === WHENCE.CUR && offset === 0n ? RIGHTS.FD_TELL : RIGHTS.FD_SEEK;
    const { fd: f, node } = s.fds.file(fd, 0n, E.SPIPE);
    if ((f.base & (right | RIGHTS.FD_SEEK)) === 0n) throw E.NOTCAPABLE;
    const base = whence === WHENCE.SET ? 0 : whence === WHENCE.CUR ? f.pos : whence === WHENCE.END ? node.size : -1;
    if (base < 0) throw E.INVAL;
    const pos = base + Number(offset);
    if (pos < 0 || !Number.isSafeInteger(pos)) throw E.INVAL;
    s.mem.setU64(newOffset, pos);
    f.pos = pos;
    return E.SUCCESS;
  },

  fd_tell(s: State, fd: number, offsetPtr: number): number {
    // FD_SEEK implies FD_TELL.
    const { fd: f } = s.fds.file(fd, 0n, E.SPIPE);
    if ((f.base & (RIGHTS.FD_TELL | RIGHTS.FD_SEEK)) === 0n) throw E.NOTCAPABLE;
    s.mem.setU64(offsetPtr, f.pos);
    return E.SUCCESS;
  },

  fd_close: (s: State, fd: number) => (s.fds.close(fd), E.SUCCESS),
  fd_renumber: (s: State, from: number, to: number) => (s.fds.renumber(from, to), E.SUCCESS),
  /** Nothing to flush: the filesystem is memory. */
  fd_sync: (s: State, fd: number) => (need(s.fds.get(fd), RIGHTS.FD_SYNC), E.SUCCESS),
  fd_datasync: (s: State, fd: number) => (need(s.fds.get(fd), RIGHTS.FD_DATASYNC), E.SUCCESS),

  fd_advise(s: State, fd: number, _offset: bigint, _len: bigint, advice: number): number {
    s.fds.file(fd, RIGHTS.FD_ADVISE, E.SPIPE);
    return advice > 5 ? E.INVAL : E.SUCCESS;
  },

  fd_allocate(s: State, fd: number, offset: bigint, len: bigint): number {
    const { node } = s.fds.file(fd, RIGHTS.FD_ALLOCATE, E.SPIPE);
    const end = offsetOf(offset) + offsetOf(len);
    if (end > node.size) s.fds.fs().setSize(node, end);
    return E.SUCCESS;
  },

  /** fdstat: filetype@0 flags@2 rights_base@8 rights_inheriting@16 (24 bytes). */
  fd_fdstat_get(s: State, fd: number, ptr: number): number {
    const f = s.fds.get(fd);
    s.mem.range(ptr, 24).fill(0);
    s.mem.setU8(ptr, f.type);
    s.mem.setU16(ptr + 2, f.flags);
    s.mem.setU64(ptr + 8, f.base);
    s.mem.setU64(ptr + 16, f.inheriting);
    return E.SUCCESS;
  },

  fd_fdstat_set_flags(s: State, fd: number, flags: number): number {
    const f = s.fds.get(fd);
    need(f, RIGHTS.FD_FDSTAT_SET_FLAGS);
    if (flags & ~FDFLAGS.ALL) throw E.INVAL;
    f.flags = flags;
    return E.SUCCESS;
  },

  /** Rights may only shrink. */
  fd_fdstat_set_rights(s: State, fd: number, base: bigint, inheriting: bigint): number {
    const f = s.fds.get(fd);
    const b = BigInt.asUintN(64, base);
    const i = BigInt.asUintN(64, inheriting);
    if ((b & ~f.base) !== 0n || (i & ~f.inheriting) !== 0n) throw E.NOTCAPABLE;
    f.base = b;
    f.inheriting = i;
    return E.SUCCESS;
  },

  fd_filestat_get(s: State, fd: number, ptr: number): number {
    const f = s.fds.get(fd);
    need(f, RIGHTS.FD_FILESTAT_GET);
    writeFilestat(s.mem, ptr, f.node);
    return E.SUCCESS;
  },

  fd_filestat_set_size(s: State, fd: number, size: bigint): number {
    const { node } = s.fds.file(fd, RIGHTS.FD_FILESTAT_SET_SIZE, E.INVAL);
    s.fds.fs().setSize(node, offsetOf(size));
    return E.SUCCESS;
  },

  fd_filestat_set_times(s: State, fd: number, atim: bigint, mtim: bigint, flags: number): number {
    const f = s.fds.get(fd);
    need(f, RIGHTS.FD_FILESTAT_SET_TIMES);
    setTimes(s.clock, f.node, atim, mtim, flags);
    return E.SUCCESS;
  },

  fd_readdir(s: State, fd: number, buf: number, len: number, cookie: bigint, bufused: number): number {
    const { node: dir } = s.fds.dir(fd, RIGHTS.FD_READDIR);
    s.mem.setU32(bufused, readdir(dir, s.mem.range(buf, len), cookie));
    return E.SUCCESS;
  },

  /** prestat: tag u8@0, pr_name_len u32@4. Any fd that is not a preopen is EBADF (what wasi-libc expects). */
  fd_prestat_get(s: State, fd: number, ptr: number): number {
    const f = s.fds.get(fd);
    if (f.preopen === null) throw E.BADF;
    s.mem.range(ptr, 8).fill(0);
    s.mem.setU8(ptr, PREOPENTYPE_DIR);
    s.mem.setU32(ptr + 4, encoder.encode(f.preopen).length);
    return E.SUCCESS;
  },

  fd_prestat_dir_name(s: State, fd: number, ptr: number, len: number): number {
    const f = s.fds.get(fd);
    if (f.preopen === null) throw E.BADF;
    const name = encoder.encode(f.preopen);
    if (len >>> 0 < name.length) throw E.NAMETOOLONG;
    s.mem.range(ptr, name.length).set(name);
    return E.SUCCESS;
  },
};
