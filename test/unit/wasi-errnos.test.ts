/**
 * Every preview 1 import: one success and every errno the host returns, table-driven, plus the
 * rights each call needs (ENOTCAPABLE without it). Each case runs on a fresh guest holding
 * /f ("data"), /d/x, an empty /e and a symlink /l → f, with descriptors opened on them.
 * Limits shared by every path call (NAMETOOLONG, ILSEQ, LOOP past 40 links) are shown once here
 * and tested at their edges in wasi-calls.test.ts, as is path_open's EMFILE.
 */
import { describe, expect, it } from 'vitest';
import { ProcExit, WASI_ERRNO as E, WASI_FUNCTIONS } from '../../src/runtime/wasi/index.js';
import { buildShim, Guest, input, O, RIGHT_READ, RIGHT_WRITE, RIGHTS_ALL } from '../helpers/wasi-guest.js';

buildShim();

const bit = (n: number) => 1n << BigInt(n);
const R = {
  FD_DATASYNC: bit(0), FD_READ: bit(1), FD_SEEK: bit(2), FD_FDSTAT_SET_FLAGS: bit(3), FD_SYNC: bit(4), FD_TELL: bit(5),
  FD_WRITE: bit(6), FD_ADVISE: bit(7), FD_ALLOCATE: bit(8), PATH_CREATE_DIRECTORY: bit(9), PATH_CREATE_FILE: bit(10),
  PATH_LINK_SOURCE: bit(11), PATH_LINK_TARGET: bit(12), PATH_OPEN: bit(13), FD_READDIR: bit(14), PATH_READLINK: bit(15),
  PATH_RENAME_SOURCE: bit(16), PATH_RENAME_TARGET: bit(17), PATH_FILESTAT_GET: bit(18), PATH_FILESTAT_SET_SIZE: bit(19),
  PATH_FILESTAT_SET_TIMES: bit(20), FD_FILESTAT_GET: bit(21), FD_FILESTAT_SET_SIZE: bit(22), FD_FILESTAT_SET_TIMES: bit(23),
  PATH_SYMLINK: bit(24), PATH_REMOVE_DIRECTORY: bit(25), PATH_UNLINK_FILE: bit(26), POLL_FD_READWRITE: bit(27),
};
/** Outside the shim's 2 pages of memory. */
const BAD = 0x7fff_0000;

interface World {
  g: Guest;
  /** /f with every right. */
  file: number;
  /** /d with every directory right (no FD_WRITE). */
  dir: number;
  /** /f with FD_READ only. */
  ro: number;
  /** /d with no rights at all. */
  bare: number;
  /** Scratch memory. */
  p: number;
}

function world(): World {
  const g = new Guest({ files: [input('f', 'data'), input('d/x', 'x')] });
  expect(g.path('path_create_directory', 'e')).toBe(0);
  expect(g.call('path_symlink', ...g.put('f'), 3, ...g.put('l'))).toBe(0);
  const file = g.fd('f');
  const dir = g.fd('d', { oflags: O.DIRECTORY });
  const ro = g.fd('f', { rights: RIGHT_READ });
  const bare = g.fd('d', { oflags: O.DIRECTORY, rights: 0n });
  return { g, file, dir, ro, bare, p: g.alloc(256) };
}

type Case = [label: string, errno: number, run: (w: World) => number];

const iov = (w: World, len = 4) => w.g.iov([[w.g.alloc(len), len]]);
const at = (w: World, fd: number, name: string, path: string, ...rest: (number | bigint)[]) => w.g.call(name, fd, ...w.g.put(path), ...rest);
/** poll_oneoff with one subscription: tag 0 = clock (id in `arg`), 1/2 = fd read/write (fd in `arg`); returns [errno, event error]. */
function poll(w: World, tag: number, arg: number): [number, number] {
  const { g } = w;
  const sub = g.alloc(48);
  const ev = g.alloc(32);
  g.dv.setUint8(sub + 8, tag);
  g.dv.setUint32(sub + 16, arg, true);
  const errno = g.call('poll_oneoff', sub, ev, 1, w.p);
  return [errno, g.dv.getUint16(ev + 8, true)];
}
/** Shrink `fd`'s base rights to those of `base` it has. */
function withRights(w: World, fd: number, base: bigint): number {
  expect(w.g.call('fd_fdstat_get', fd, w.p)).toBe(0);
  expect(w.g.call('fd_fdstat_set_rights', fd, base & w.g.u64(w.p + 8), w.g.u64(w.p + 16))).toBe(0);
  return fd;
}
const stat = (w: World, fd: number, path: string, buf = w.p) => w.g.call('path_filestat_get', fd, 0, ...w.g.put(path), buf);
function nospcGuest(): Guest {
  return new Guest({ files: [input('f', 'data')], maxFsBytes: 2, maxInodes: 2 });
}

const CASES: Record<string, Case[]> = {
  args_get: [['writes argv', E.SUCCESS, (w) => w.g.call('args_get', w.p, w.p + 16)], ['bad pointer', E.FAULT, (w) => w.g.call('args_get', BAD, w.p)]],
  args_sizes_get: [['sizes', E.SUCCESS, (w) => w.g.call('args_sizes_get', w.p, w.p + 4)], ['bad pointer', E.FAULT, (w) => w.g.call('args_sizes_get', BAD, w.p)]],
  environ_get: [['writes env', E.SUCCESS, (w) => w.g.call('environ_get', w.p, w.p + 16)], ['bad pointer', E.FAULT, (w) => w.g.call('environ_get', w.p, BAD)]],
  environ_sizes_get: [['sizes', E.SUCCESS, (w) => w.g.call('environ_sizes_get', w.p, w.p + 4)], ['bad pointer', E.FAULT, (w) => w.g.call('environ_sizes_get', w.p, BAD)]],
  clock_res_get: [
    ['monotonic', E.SUCCESS, (w) => w.g.call('clock_res_get', 1, w.p)],
    ['unknown clock', E.INVAL, (w) => w.g.call('clock_res_get', 4, w.p)],
    ['bad pointer', E.FAULT, (w) => w.g.call('clock_res_get', 0, BAD)],
  ],
  clock_time_get: [
    ['realtime', E.SUCCESS, (w) => w.g.call('clock_time_get', 0, 0n, w.p)],
    ['unknown clock', E.INVAL, (w) => w.g.call('clock_time_get', 4, 0n, w.p)],
    ['bad pointer', E.FAULT, (w) => w.g.call('clock_time_get', 0, 0n, BAD)],
  ],
  fd_advise: [
    ['file', E.SUCCESS, (w) => w.g.call('fd_advise', w.file, 0n, 4n, 1)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_advise', 99, 0n, 4n, 1)],
    ['stdio', E.SPIPE, (w) => w.g.call('fd_advise', 1, 0n, 4n, 1)],
    ['directory', E.ISDIR, (w) => w.g.call('fd_advise', w.dir, 0n, 4n, 1)],
    ['without FD_ADVISE', E.NOTCAPABLE, (w) => w.g.call('fd_advise', w.ro, 0n, 4n, 1)],
    ['unknown advice', E.INVAL, (w) => w.g.call('fd_advise', w.file, 0n, 4n, 6)],
  ],
  fd_allocate: [
    ['file', E.SUCCESS, (w) => w.g.call('fd_allocate', w.file, 0n, 100n)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_allocate', 99, 0n, 1n)],
    ['stdio', E.SPIPE, (w) => w.g.call('fd_allocate', 1, 0n, 1n)],
    ['directory', E.ISDIR, (w) => w.g.call('fd_allocate', w.dir, 0n, 1n)],
    ['without FD_ALLOCATE', E.NOTCAPABLE, (w) => w.g.call('fd_allocate', withRights(w, w.file, RIGHTS_ALL & ~R.FD_ALLOCATE), 0n, 1n)],
    ['negative offset', E.INVAL, (w) => w.g.call('fd_allocate', w.file, -1n, 1n)],
    ['past the byte budget', E.NOSPC, () => { const g = nospcGuest(); return g.call('fd_allocate', g.fd('f'), 0n, 100n); }],
  ],
  fd_close: [['open fd', E.SUCCESS, (w) => w.g.call('fd_close', w.file)], ['unknown fd', E.BADF, (w) => w.g.call('fd_close', 99)]],
  fd_datasync: [
    ['file', E.SUCCESS, (w) => w.g.call('fd_datasync', w.file)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_datasync', 99)],
    ['without FD_DATASYNC (stdout)', E.NOTCAPABLE, (w) => w.g.call('fd_datasync', 1)],
  ],
  fd_fdstat_get: [
    ['stdout', E.SUCCESS, (w) => w.g.call('fd_fdstat_get', 1, w.p)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_fdstat_get', 99, w.p)],
    ['bad pointer', E.FAULT, (w) => w.g.call('fd_fdstat_get', 1, BAD)],
  ],
  fd_fdstat_set_flags: [
    ['append', E.SUCCESS, (w) => w.g.call('fd_fdstat_set_flags', w.file, 1)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_fdstat_set_flags', 99, 0)],
    ['without FD_FDSTAT_SET_FLAGS', E.NOTCAPABLE, (w) => w.g.call('fd_fdstat_set_flags', w.ro, 0)],
    ['unknown flag', E.INVAL, (w) => w.g.call('fd_fdstat_set_flags', w.file, 1 << 5)],
  ],
  fd_fdstat_set_rights: [
    ['shrink', E.SUCCESS, (w) => w.g.call('fd_fdstat_set_rights', w.file, RIGHT_READ, 0n)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_fdstat_set_rights', 99, 0n, 0n)],
    ['grow', E.NOTCAPABLE, (w) => w.g.call('fd_fdstat_set_rights', w.ro, RIGHT_READ | RIGHT_WRITE, 0n)],
  ],
  fd_filestat_get: [
    ['file', E.SUCCESS, (w) => w.g.call('fd_filestat_get', w.file, w.p)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_filestat_get', 99, w.p)],
    ['without FD_FILESTAT_GET', E.NOTCAPABLE, (w) => w.g.call('fd_filestat_get', w.ro, w.p)],
    ['bad pointer', E.FAULT, (w) => w.g.call('fd_filestat_get', w.file, BAD)],
  ],
  fd_filestat_set_size: [
    ['file', E.SUCCESS, (w) => w.g.call('fd_filestat_set_size', w.file, 2n)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_filestat_set_size', 99, 2n)],
    ['stdio', E.INVAL, (w) => w.g.call('fd_filestat_set_size', 1, 2n)],
    ['directory', E.ISDIR, (w) => w.g.call('fd_filestat_set_size', w.dir, 2n)],
    ['without FD_FILESTAT_SET_SIZE', E.NOTCAPABLE, (w) => w.g.call('fd_filestat_set_size', w.ro, 2n)],
    ['negative size', E.INVAL, (w) => w.g.call('fd_filestat_set_size', w.file, -1n)],
    ['past the byte budget', E.NOSPC, () => { const g = nospcGuest(); return g.call('fd_filestat_set_size', g.fd('f'), 100n); }],
  ],
  fd_filestat_set_times: [
    ['file', E.SUCCESS, (w) => w.g.call('fd_filestat_set_times', w.file, 5n, 6n, 1 | 4)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_filestat_set_times', 99, 0n, 0n, 0)],
    ['without FD_FILESTAT_SET_TIMES', E.NOTCAPABLE, (w) => w.g.call('fd_filestat_set_times', w.ro, 0n, 0n, 2)],
    ['a time and now', E.INVAL, (w) => w.g.call('fd_filestat_set_times', w.file, 0n, 0n, 1 | 2)],
  ],
  fd_pread: [
    ['file', E.SUCCESS, (w) => w.g.call('fd_pread', w.file, iov(w), 1, 1n, w.p)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_pread', 99, iov(w), 1, 0n, w.p)],
    ['stdin', E.SPIPE, (w) => w.g.call('fd_pread', 0, iov(w), 1, 0n, w.p)],
    ['directory', E.ISDIR, (w) => w.g.call('fd_pread', w.dir, iov(w), 1, 0n, w.p)],
    ['FD_READ without FD_SEEK', E.NOTCAPABLE, (w) => w.g.call('fd_pread', w.ro, iov(w), 1, 0n, w.p)],
    ['negative offset', E.INVAL, (w) => w.g.call('fd_pread', w.file, iov(w), 1, -1n, w.p)],
    ['bad iovec', E.FAULT, (w) => w.g.call('fd_pread', w.file, BAD, 1, 0n, w.p)],
  ],
  fd_pwrite: [
    ['file', E.SUCCESS, (w) => w.g.call('fd_pwrite', w.file, iov(w), 1, 1n, w.p)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_pwrite', 99, iov(w), 1, 0n, w.p)],
    ['stdout', E.SPIPE, (w) => w.g.call('fd_pwrite', 1, iov(w), 1, 0n, w.p)],
    ['directory', E.ISDIR, (w) => w.g.call('fd_pwrite', w.dir, iov(w), 1, 0n, w.p)],
    ['FD_WRITE without FD_SEEK', E.NOTCAPABLE, (w) => w.g.call('fd_pwrite', withRights(w, w.file, RIGHT_WRITE), iov(w), 1, 0n, w.p)],
    ['negative offset', E.INVAL, (w) => w.g.call('fd_pwrite', w.file, iov(w), 1, -1n, w.p)],
    ['bad iovec', E.FAULT, (w) => w.g.call('fd_pwrite', w.file, BAD, 1, 0n, w.p)],
    ['past the byte budget', E.NOSPC, () => { const g = nospcGuest(); return g.call('fd_pwrite', g.fd('f'), g.iov([[g.alloc(8), 8]]), 1, 0n, g.alloc(4)); }],
  ],
  fd_prestat_dir_name: [
    ['preopen', E.SUCCESS, (w) => w.g.call('fd_prestat_dir_name', 3, w.p, 1)],
    ['not a preopen', E.BADF, (w) => w.g.call('fd_prestat_dir_name', w.dir, w.p, 1)],
    ['buffer too small', E.NAMETOOLONG, (w) => w.g.call('fd_prestat_dir_name', 3, w.p, 0)],
    ['bad pointer', E.FAULT, (w) => w.g.call('fd_prestat_dir_name', 3, BAD, 1)],
  ],
  fd_prestat_get: [
    ['preopen', E.SUCCESS, (w) => w.g.call('fd_prestat_get', 3, w.p)],
    ['not a preopen', E.BADF, (w) => w.g.call('fd_prestat_get', 1, w.p)],
    ['bad pointer', E.FAULT, (w) => w.g.call('fd_prestat_get', 3, BAD)],
  ],
  fd_read: [
    ['file', E.SUCCESS, (w) => w.g.call('fd_read', w.ro, iov(w), 1, w.p)],
    ['stdin', E.SUCCESS, (w) => w.g.call('fd_read', 0, iov(w), 1, w.p)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_read', 99, iov(w), 1, w.p)],
    ['directory', E.ISDIR, (w) => w.g.call('fd_read', w.dir, iov(w), 1, w.p)],
    ['without FD_READ', E.NOTCAPABLE, (w) => w.g.call('fd_read', withRights(w, w.file, RIGHT_WRITE), iov(w), 1, w.p)],
    ['without FD_READ (stdout)', E.NOTCAPABLE, (w) => w.g.call('fd_read', 1, iov(w), 1, w.p)],
    ['bad iovec', E.FAULT, (w) => w.g.call('fd_read', w.file, BAD, 1, w.p)],
  ],
  fd_readdir: [
    ['directory', E.SUCCESS, (w) => w.g.call('fd_readdir', w.dir, w.p, 128, 0n, w.p + 128)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_readdir', 99, w.p, 128, 0n, w.p + 128)],
    ['a file', E.NOTDIR, (w) => w.g.call('fd_readdir', w.file, w.p, 128, 0n, w.p + 128)],
    ['without FD_READDIR', E.NOTCAPABLE, (w) => w.g.call('fd_readdir', w.bare, w.p, 128, 0n, w.p + 128)],
    ['bad buffer', E.FAULT, (w) => w.g.call('fd_readdir', w.dir, BAD, 128, 0n, w.p)],
  ],
  fd_renumber: [['open fds', E.SUCCESS, (w) => w.g.call('fd_renumber', w.file, w.ro)], ['unknown fd', E.BADF, (w) => w.g.call('fd_renumber', w.file, 99)]],
  fd_seek: [
    ['file', E.SUCCESS, (w) => w.g.call('fd_seek', w.file, 2n, 0, w.p)],
    ['FD_TELL: offset unchanged', E.SUCCESS, (w) => w.g.call('fd_seek', withRights(w, w.file, R.FD_TELL), 0n, 1, w.p)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_seek', 99, 0n, 0, w.p)],
    ['stdout', E.SPIPE, (w) => w.g.call('fd_seek', 1, 0n, 0, w.p)],
    ['directory', E.ISDIR, (w) => w.g.call('fd_seek', w.dir, 0n, 0, w.p)],
    ['without FD_SEEK', E.NOTCAPABLE, (w) => w.g.call('fd_seek', w.ro, 0n, 0, w.p)],
    ['FD_TELL only, moving', E.NOTCAPABLE, (w) => w.g.call('fd_seek', withRights(w, w.file, R.FD_TELL), 1n, 1, w.p)],
    ['unknown whence', E.INVAL, (w) => w.g.call('fd_seek', w.file, 0n, 3, w.p)],
    ['before the start', E.INVAL, (w) => w.g.call('fd_seek', w.file, -1n, 0, w.p)],
    ['bad pointer', E.FAULT, (w) => w.g.call('fd_seek', w.file, 0n, 0, BAD)],
  ],
  fd_sync: [
    ['file', E.SUCCESS, (w) => w.g.call('fd_sync', w.file)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_sync', 99)],
    ['without FD_SYNC', E.NOTCAPABLE, (w) => w.g.call('fd_sync', w.ro)],
  ],
  fd_tell: [
    ['file', E.SUCCESS, (w) => w.g.call('fd_tell', w.file, w.p)],
    ['FD_SEEK implies FD_TELL', E.SUCCESS, (w) => w.g.call('fd_tell', withRights(w, w.file, R.FD_SEEK), w.p)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_tell', 99, w.p)],
    ['stdout', E.SPIPE, (w) => w.g.call('fd_tell', 1, w.p)],
    ['directory', E.ISDIR, (w) => w.g.call('fd_tell', w.dir, w.p)],
    ['without FD_TELL', E.NOTCAPABLE, (w) => w.g.call('fd_tell', w.ro, w.p)],
    ['bad pointer', E.FAULT, (w) => w.g.call('fd_tell', w.file, BAD)],
  ],
  fd_write: [
    ['file', E.SUCCESS, (w) => w.g.call('fd_write', w.file, iov(w), 1, w.p)],
    ['stdout', E.SUCCESS, (w) => w.g.call('fd_write', 1, iov(w), 1, w.p)],
    ['unknown fd', E.BADF, (w) => w.g.call('fd_write', 99, iov(w), 1, w.p)],
    ['directory', E.ISDIR, (w) => w.g.call('fd_write', w.dir, iov(w), 1, w.p)],
    ['without FD_WRITE', E.NOTCAPABLE, (w) => w.g.call('fd_write', w.ro, iov(w), 1, w.p)],
    ['without FD_WRITE (stdin)', E.NOTCAPABLE, (w) => w.g.call('fd_write', 0, iov(w), 1, w.p)],
    ['bad iovec', E.FAULT, (w) => w.g.call('fd_write', 1, BAD, 1, w.p)],
    ['past the byte budget', E.NOSPC, () => { const g = nospcGuest(); return g.write(g.fd('f'), 'more than two').errno; }],
  ],
  path_create_directory: [
    ['new', E.SUCCESS, (w) => at(w, 3, 'path_create_directory', 'n')],
    ['unknown fd', E.BADF, (w) => at(w, 99, 'path_create_directory', 'n')],
    ['fd is a file', E.NOTDIR, (w) => at(w, w.file, 'path_create_directory', 'n')],
    ['without PATH_CREATE_DIRECTORY', E.NOTCAPABLE, (w) => at(w, w.bare, 'path_create_directory', 'n')],
    ['absolute path', E.NOTCAPABLE, (w) => at(w, 3, 'path_create_directory', '/n')],
    ['exists', E.EXIST, (w) => at(w, 3, 'path_create_directory', 'e')],
    ['missing parent', E.NOENT, (w) => at(w, 3, 'path_create_directory', 'no/n')],
    ['parent is a file', E.NOTDIR, (w) => at(w, 3, 'path_create_directory', 'f/n')],
    ['NUL in the path', E.INVAL, (w) => at(w, 3, 'path_create_directory', 'a\0b')],
    ['invalid UTF-8', E.ILSEQ, (w) => w.g.call('path_create_directory', 3, ...w.g.put(new Uint8Array([0xff])))],
    ['name of 256 bytes', E.NAMETOOLONG, (w) => at(w, 3, 'path_create_directory', 'n'.repeat(256))],
    ['bad path pointer', E.FAULT, (w) => w.g.call('path_create_directory', 3, BAD, 4)],
    ['past the inode budget', E.NOSPC, () => { const g = nospcGuest(); g.path('path_create_directory', 'a'); return g.path('path_create_directory', 'b'); }],
  ],
  path_filestat_get: [
    ['file', E.SUCCESS, (w) => stat(w, 3, 'f', w.p)],
    ['unknown fd', E.BADF, (w) => stat(w, 99, 'f', w.p)],
    ['fd is a file', E.NOTDIR, (w) => stat(w, w.file, 'f', w.p)],
    ['without PATH_FILESTAT_GET', E.NOTCAPABLE, (w) => stat(w, w.bare, 'x', w.p)],
    ['missing', E.NOENT, (w) => stat(w, 3, 'nope', w.p)],
    ['bad buffer', E.FAULT, (w) => stat(w, 3, 'f', BAD)],
  ],
  path_filestat_set_times: [
    ['file', E.SUCCESS, (w) => w.g.call('path_filestat_set_times', 3, 0, ...w.g.put('f'), 1n, 2n, 1 | 4)],
    ['unknown fd', E.BADF, (w) => w.g.call('path_filestat_set_times', 99, 0, ...w.g.put('f'), 0n, 0n, 0)],
    ['without PATH_FILESTAT_SET_TIMES', E.NOTCAPABLE, (w) => w.g.call('path_filestat_set_times', w.bare, 0, ...w.g.put('x'), 0n, 0n, 2)],
    ['missing', E.NOENT, (w) => w.g.call('path_filestat_set_times', 3, 0, ...w.g.put('nope'), 0n, 0n, 2)],
    ['a time and now', E.INVAL, (w) => w.g.call('path_filestat_set_times', 3, 0, ...w.g.put('f'), 0n, 0n, 4 | 8)],
  ],
  path_link: [
    ['file', E.SUCCESS, (w) => w.g.call('path_link', 3, 0, ...w.g.put('f'), 3, ...w.g.put('g'))],
    ['unknown fd', E.BADF, (w) => w.g.call('path_link', 3, 0, ...w.g.put('f'), 99, ...w.g.put('g'))],
    ['source without PATH_LINK_SOURCE', E.NOTCAPABLE, (w) => w.g.call('path_link', w.bare, 0, ...w.g.put('x'), 3, ...w.g.put('g'))],
    ['target without PATH_LINK_TARGET', E.NOTCAPABLE, (w) => w.g.call('path_link', 3, 0, ...w.g.put('f'), w.bare, ...w.g.put('g'))],
    ['missing source', E.NOENT, (w) => w.g.call('path_link', 3, 0, ...w.g.put('nope'), 3, ...w.g.put('g'))],
    ['a directory', E.PERM, (w) => w.g.call('path_link', 3, 0, ...w.g.put('e'), 3, ...w.g.put('g'))],
    ['target exists', E.EXIST, (w) => w.g.call('path_link', 3, 0, ...w.g.put('f'), 3, ...w.g.put('e'))],
  ],
  path_open: [
    ['file', E.SUCCESS, (w) => w.g.open('f').errno],
    ['directory without FD_WRITE', E.SUCCESS, (w) => w.g.open('.', { oflags: O.DIRECTORY, rights: RIGHT_READ }).errno],
    ['unknown fd', E.BADF, (w) => w.g.open('f', { dir: 99 }).errno],
    ['fd is a file', E.NOTDIR, (w) => w.g.open('f', { dir: w.file }).errno],
    ['without PATH_OPEN', E.NOTCAPABLE, (w) => w.g.open('x', { dir: w.bare, rights: 0n }).errno],
    ['creat without PATH_CREATE_FILE', E.NOTCAPABLE, (w) => w.g.open('n', { dir: withRights(w, w.dir, R.PATH_OPEN), oflags: O.CREAT, rights: 0n }).errno],
    ['trunc without PATH_FILESTAT_SET_SIZE', E.NOTCAPABLE, (w) => w.g.open('x', { dir: withRights(w, w.dir, RIGHTS_ALL & ~R.PATH_FILESTAT_SET_SIZE), oflags: O.TRUNC, rights: 0n }).errno],
    ['fdflags.sync without FD_SYNC', E.NOTCAPABLE, (w) => w.g.open('x', { dir: withRights(w, w.dir, R.PATH_OPEN), fdflags: 16, rights: 0n }).errno],
    ['fdflags.dsync without FD_DATASYNC', E.NOTCAPABLE, (w) => w.g.open('x', { dir: withRights(w, w.dir, R.PATH_OPEN), fdflags: 2, rights: 0n }).errno],
    ['absolute path', E.NOTCAPABLE, (w) => w.g.open('/f').errno],
    ['".." above the fd', E.NOTCAPABLE, (w) => w.g.open('../f', { dir: w.dir }).errno],
    ['unknown fdflag', E.INVAL, (w) => w.g.open('f', { fdflags: 1 << 5 }).errno],
    ['creat with directory', E.INVAL, (w) => w.g.open('n', { oflags: O.CREAT | O.DIRECTORY }).errno],
    ['missing', E.NOENT, (w) => w.g.open('nope').errno],
    ['directory with FD_WRITE', E.ISDIR, (w) => w.g.open('.', { oflags: O.DIRECTORY, rights: RIGHT_READ | RIGHT_WRITE }).errno],
    ['directory with trunc', E.ISDIR, (w) => w.g.open('e', { oflags: O.TRUNC, rights: 0n }).errno],
    ['creat of "new/"', E.ISDIR, (w) => w.g.open('new/', { oflags: O.CREAT }).errno],
    ['creat|excl of an existing file', E.EXIST, (w) => w.g.open('f', { oflags: O.CREAT | O.EXCL }).errno],
    ['symlink, not followed', E.LOOP, (w) => w.g.open('l').errno],
    ['directory flag on a file', E.NOTDIR, (w) => w.g.open('f', { oflags: O.DIRECTORY }).errno],
    ['bad fd pointer', E.FAULT, (w) => w.g.call('path_open', 3, 0, ...w.g.put('f'), 0, RIGHTS_ALL, RIGHTS_ALL, 0, BAD)],
  ],
  path_readlink: [
    ['symlink', E.SUCCESS, (w) => w.g.readlink('l').errno],
    ['unknown fd', E.BADF, (w) => at(w, 99, 'path_readlink', 'l', w.p, 8, w.p + 8)],
    ['without PATH_READLINK', E.NOTCAPABLE, (w) => at(w, w.bare, 'path_readlink', 'x', w.p, 8, w.p + 8)],
    ['missing', E.NOENT, (w) => w.g.readlink('nope').errno],
    ['not a symlink', E.INVAL, (w) => w.g.readlink('f').errno],
    ['bad buffer', E.FAULT, (w) => at(w, 3, 'path_readlink', 'l', BAD, 8, w.p)],
  ],
  path_remove_directory: [
    ['empty directory', E.SUCCESS, (w) => at(w, 3, 'path_remove_directory', 'e')],
    ['unknown fd', E.BADF, (w) => at(w, 99, 'path_remove_directory', 'e')],
    ['without PATH_REMOVE_DIRECTORY', E.NOTCAPABLE, (w) => at(w, withRights(w, 3, RIGHTS_ALL & ~R.PATH_REMOVE_DIRECTORY), 'path_remove_directory', 'e')],
    ['missing', E.NOENT, (w) => at(w, 3, 'path_remove_directory', 'nope')],
    ['a file', E.NOTDIR, (w) => at(w, 3, 'path_remove_directory', 'f')],
    ['not empty', E.NOTEMPTY, (w) => at(w, 3, 'path_remove_directory', 'd')],
    ['"."', E.BUSY, (w) => at(w, w.dir, 'path_remove_directory', '.')],
  ],
  path_rename: [
    ['file', E.SUCCESS, (w) => w.g.call('path_rename', 3, ...w.g.put('f'), 3, ...w.g.put('g'))],
    ['unknown fd', E.BADF, (w) => w.g.call('path_rename', 3, ...w.g.put('f'), 99, ...w.g.put('g'))],
    ['source without PATH_RENAME_SOURCE', E.NOTCAPABLE, (w) => w.g.call('path_rename', w.bare, ...w.g.put('x'), 3, ...w.g.put('g'))],
    ['target without PATH_RENAME_TARGET', E.NOTCAPABLE, (w) => w.g.call('path_rename', 3, ...w.g.put('f'), w.bare, ...w.g.put('g'))],
    ['missing', E.NOENT, (w) => w.g.call('path_rename', 3, ...w.g.put('nope'), 3, ...w.g.put('g'))],
    ['"." as the target', E.BUSY, (w) => w.g.call('path_rename', 3, ...w.g.put('f'), w.dir, ...w.g.put('.'))],
    ['directory over a file', E.NOTDIR, (w) => w.g.call('path_rename', 3, ...w.g.put('e'), 3, ...w.g.put('f'))],
    ['over a non-empty directory', E.NOTEMPTY, (w) => w.g.call('path_rename', 3, ...w.g.put('e'), 3, ...w.g.put('d'))],
    ['directory below itself', E.INVAL, (w) => w.g.call('path_rename', 3, ...w.g.put('d'), 3, ...w.g.put('d/y'))],
    ['file over a directory', E.ISDIR, (w) => w.g.call('path_rename', 3, ...w.g.put('f'), 3, ...w.g.put('e'))],
  ],
  path_symlink: [
    ['relative target', E.SUCCESS, (w) => w.g.call('path_symlink', ...w.g.put('f'), 3, ...w.g.put('m'))],
    ['unknown fd', E.BADF, (w) => w.g.call('path_symlink', ...w.g.put('f'), 99, ...w.g.put('m'))],
    ['without PATH_SYMLINK', E.NOTCAPABLE, (w) => w.g.call('path_symlink', ...w.g.put('f'), w.bare, ...w.g.put('m'))],
    ['absolute target', E.NOTCAPABLE, (w) => w.g.call('path_symlink', ...w.g.put('/f'), 3, ...w.g.put('m'))],
    ['empty target', E.NOENT, (w) => w.g.call('path_symlink', ...w.g.put(''), 3, ...w.g.put('m'))],
    ['exists', E.EXIST, (w) => w.g.call('path_symlink', ...w.g.put('f'), 3, ...w.g.put('e'))],
  ],
  path_unlink_file: [
    ['file', E.SUCCESS, (w) => at(w, 3, 'path_unlink_file', 'f')],
    ['unknown fd', E.BADF, (w) => at(w, 99, 'path_unlink_file', 'f')],
    ['without PATH_UNLINK_FILE', E.NOTCAPABLE, (w) => at(w, w.bare, 'path_unlink_file', 'x')],
    ['missing', E.NOENT, (w) => at(w, 3, 'path_unlink_file', 'nope')],
    ['a directory', E.ISDIR, (w) => at(w, 3, 'path_unlink_file', 'e')],
  ],
  poll_oneoff: [
    ['stdin readable', E.SUCCESS, (w) => poll(w, 1, 0)[0]],
    ['no subscriptions', E.INVAL, (w) => w.g.call('poll_oneoff', w.p, w.p + 64, 0, w.p + 128)],
    ['unknown tag', E.INVAL, (w) => poll(w, 7, 0)[0]],
    ['bad pointer', E.FAULT, (w) => w.g.call('poll_oneoff', BAD, w.p, 1, w.p + 128)],
    ['event: unknown fd', E.BADF, (w) => poll(w, 1, 99)[1]],
    ['event: read without FD_READ', E.NOTCAPABLE, (w) => poll(w, 1, 1)[1]],
    ['event: write without FD_WRITE', E.NOTCAPABLE, (w) => poll(w, 2, w.ro)[1]],
    ['event: unknown clock', E.INVAL, (w) => poll(w, 0, 9)[1]],
  ],
  proc_raise: [['any signal', E.NOSYS, (w) => w.g.call('proc_raise', 9)]],
  random_get: [['bytes', E.SUCCESS, (w) => w.g.call('random_get', w.p, 16)], ['bad buffer', E.FAULT, (w) => w.g.call('random_get', BAD, 16)]],
  sched_yield: [['yield', E.SUCCESS, (w) => w.g.call('sched_yield')]],
  sock_accept: [['not a socket', E.NOTSOCK, (w) => w.g.call('sock_accept', 1, 0, w.p)], ['unknown fd', E.BADF, (w) => w.g.call('sock_accept', 99, 0, w.p)]],
  sock_recv: [['not a socket', E.NOTSOCK, (w) => w.g.call('sock_recv', 0, w.p, 0, 0, w.p, w.p + 4)], ['unknown fd', E.BADF, (w) => w.g.call('sock_recv', 99, w.p, 0, 0, w.p, w.p + 4)]],
  sock_send: [['not a socket', E.NOTSOCK, (w) => w.g.call('sock_send', 1, w.p, 0, 0, w.p)], ['unknown fd', E.BADF, (w) => w.g.call('sock_send', 99, w.p, 0, 0, w.p)]],
  sock_shutdown: [['not a socket', E.NOTSOCK, (w) => w.g.call('sock_shutdown', 3, 0)], ['unknown fd', E.BADF, (w) => w.g.call('sock_shutdown', 99, 0)]],
};

describe('wasi imports: success and every errno', () => {
  it('covers all 46 imports (proc_exit ends the run instead of answering)', () => {
    expect(WASI_FUNCTIONS).toHaveLength(46);
    expect([...Object.keys(CASES), 'proc_exit'].sort()).toEqual([...WASI_FUNCTIONS]);
  });

  for (const [name, cases] of Object.entries(CASES)) {
    it(name, () => {
      for (const [label, errno, run] of cases) expect(run(world()), `${name}: ${label}`).toBe(errno);
    });
  }

  it('proc_exit unwinds the guest with its code', () => {
    const { g } = world();
    expect(() => g.call('proc_exit', 7)).toThrow(ProcExit);
  });
});

describe('wasi rights', () => {
  it('path_open with O_TRUNC needs PATH_FILESTAT_SET_SIZE on the directory (issue 12)', () => {
    const w = world();
    withRights(w, 3, RIGHTS_ALL & ~R.PATH_FILESTAT_SET_SIZE);
    expect(w.g.open('f', { oflags: O.TRUNC, rights: RIGHT_WRITE }).errno).toBe(E.NOTCAPABLE);
    expect(w.g.stat('f').size).toBe(4n); // untouched
    expect(w.g.open('f', { rights: RIGHT_WRITE }).errno).toBe(0);
  });

  it('a descriptor inherits at most its directory\'s inheriting rights, down the tree', () => {
    const { g, p } = world();
    // d opened with inheriting = read-only file rights and directory rights without creation.
    const inherit = R.PATH_OPEN | R.FD_READDIR | R.FD_READ | R.FD_SEEK | R.FD_TELL | R.FD_FILESTAT_GET;
    const out = g.alloc(4);
    expect(g.call('path_open', 3, 0, ...g.put('d'), O.DIRECTORY, R.PATH_OPEN | R.FD_READDIR, inherit, 0, out)).toBe(0);
    const d = g.u32(out);
    expect(g.open('x', { dir: d, rights: RIGHT_READ | RIGHT_WRITE }).errno).toBe(E.NOTCAPABLE);
    // A directory's inheriting rights are checked too; a file's do not apply (it opens nothing).
    expect(g.call('path_open', d, 0, ...g.put('.'), O.DIRECTORY, R.PATH_OPEN, RIGHTS_ALL, 0, out)).toBe(E.NOTCAPABLE);
    expect(g.call('path_open', d, 0, ...g.put('x'), 0, RIGHT_READ, RIGHTS_ALL, 0, out)).toBe(0);
    expect(g.call('fd_fdstat_get', g.u32(out), p)).toBe(0);
    expect(g.u64(p + 16)).toBe(inherit);
    expect(g.call('path_open', d, 0, ...g.put('x'), 0, RIGHT_READ | R.FD_SEEK, 0n, 0, out)).toBe(0);
    const x = g.u32(out);
    expect(g.call('fd_fdstat_get', x, p)).toBe(0);
    expect([g.u64(p + 8), g.u64(p + 16)]).toEqual([RIGHT_READ | R.FD_SEEK, 0n]);
    expect(g.read(x, 1).text).toBe('x');
    expect(g.write(x, 'y').errno).toBe(E.NOTCAPABLE);
    expect(g.open('x', { dir: d, oflags: O.CREAT, rights: RIGHT_READ }).errno).toBe(E.NOTCAPABLE); // no PATH_CREATE_FILE
    // Rights that do not apply to a directory are dropped, not refused.
    expect(g.call('path_open', 3, 0, ...g.put('e'), O.DIRECTORY, RIGHT_READ | R.FD_SEEK | R.FD_READDIR, 0n, 0, out)).toBe(0);
    expect(g.call('fd_fdstat_get', g.u32(out), p)).toBe(0);
    expect(g.u64(p + 8)).toBe(R.FD_READDIR);
  });

  it('bits past the 30 defined rights are ignored in path_open (guests pass -1 for "all")', () => {
    const { g } = world();
    expect(g.call('path_open', 3, 0, ...g.put('f'), 0, -1n, -1n, 0, g.alloc(4))).toBe(0);
  });
});
