/**
 * Preview 1 ABI constants and record layouts (typenames.witx). Offsets are in bytes, little
 * endian, with the C alignment rules the witx lowering uses.
 */
export const FILETYPE = {
  UNKNOWN: 0, BLOCK_DEVICE: 1, CHARACTER_DEVICE: 2, DIRECTORY: 3, REGULAR_FILE: 4,
  SOCKET_DGRAM: 5, SOCKET_STREAM: 6, SYMBOLIC_LINK: 7,
} as const;

export const CLOCK = { REALTIME: 0, MONOTONIC: 1, PROCESS_CPUTIME: 2, THREAD_CPUTIME: 3 } as const;
export const WHENCE = { SET: 0, CUR: 1, END: 2 } as const;
export const OFLAGS = { CREAT: 1, DIRECTORY: 2, EXCL: 4, TRUNC: 8 } as const;
export const FDFLAGS = { APPEND: 1, DSYNC: 2, NONBLOCK: 4, RSYNC: 8, SYNC: 16, ALL: 31 } as const;
export const LOOKUP_SYMLINK_FOLLOW = 1;
export const FSTFLAGS = { ATIM: 1, ATIM_NOW: 2, MTIM: 4, MTIM_NOW: 8 } as const;
export const EVENTTYPE = { CLOCK: 0, FD_READ: 1, FD_WRITE: 2 } as const;
export const SUBCLOCK_ABSTIME = 1;
export const PREOPENTYPE_DIR = 0;

/** `$rights` bits, in witx order. */
const bit = (n: number) => 1n << BigInt(n);
export const RIGHTS = {
  FD_DATASYNC: bit(0), FD_READ: bit(1), FD_SEEK: bit(2), FD_FDSTAT_SET_FLAGS: bit(3),
  FD_SYNC: bit(4), FD_TELL: bit(5), FD_WRITE: bit(6), FD_ADVISE: bit(7), FD_ALLOCATE: bit(8),
  PATH_CREATE_DIRECTORY: bit(9), PATH_CREATE_FILE: bit(10), PATH_LINK_SOURCE: bit(11),
  PATH_LINK_TARGET: bit(12), PATH_OPEN: bit(13), FD_READDIR: bit(14), PATH_READLINK: bit(15),
  PATH_RENAME_SOURCE: bit(16), PATH_RENAME_TARGET: bit(17), PATH_FILESTAT_GET: bit(18),
  PATH_FILESTAT_SET_SIZE: bit(19), PATH_FILESTAT_SET_TIMES: bit(20), FD_FILESTAT_GET: bit(21),
  FD_FILESTAT_SET_SIZE: bit(22), FD_FILESTAT_SET_TIMES: bit(23), PATH_SYMLINK: bit(24),
  PATH_REMOVE_DIRECTORY: bit(25), PATH_UNLINK_FILE: bit(26), POLL_FD_READWRITE: bit(27),
  SOCK_SHUTDOWN: bit(28), SOCK_ACCEPT: bit(29),
} as const;
export const RIGHTS_ALL = bit(30) - 1n;
const R = RIGHTS;
/** What an open regular file can do. */
export const RIGHTS_FILE =
  R.FD_DATASYNC | R.FD_READ | R.FD_SEEK | R.FD_FDSTAT_SET_FLAGS | R.FD_SYNC | R.FD_TELL |
  R.FD_WRITE | R.FD_ADVISE | R.FD_ALLOCATE | R.FD_FILESTAT_GET | R.FD_FILESTAT_SET_SIZE |
  R.FD_FILESTAT_SET_TIMES | R.POLL_FD_READWRITE;
/** What an open directory can do (everything path_* plus readdir and stat). */
export const RIGHTS_DIR = RIGHTS_ALL & ~(
  R.FD_READ | R.FD_WRITE | R.FD_SEEK | R.FD_TELL | R.FD_ADVISE | R.FD_ALLOCATE |
  R.FD_FILESTAT_SET_SIZE | R.POLL_FD_READWRITE | R.SOCK_SHUTDOWN | R.SOCK_ACCEPT);
/** What a read-only mount's directories cannot do: create, change, move or remove anything. */
const RIGHTS_CHANGE =
  R.FD_WRITE | R.FD_ALLOCATE | R.FD_FILESTAT_SET_SIZE | R.FD_FILESTAT_SET_TIMES | R.PATH_CREATE_DIRECTORY |
  R.PATH_CREATE_FILE | R.PATH_LINK_SOURCE | R.PATH_LINK_TARGET | R.PATH_RENAME_SOURCE | R.PATH_RENAME_TARGET |
  R.PATH_FILESTAT_SET_SIZE | R.PATH_FILESTAT_SET_TIMES | R.PATH_SYMLINK | R.PATH_REMOVE_DIRECTORY | R.PATH_UNLINK_FILE;
/**
 * A read-only mount's preopen. PATH_LINK_SOURCE goes too: a hard link into a writable mount
 * would make the input writable there.
 */
export const RIGHTS_DIR_RO = RIGHTS_DIR & ~RIGHTS_CHANGE;
export const RIGHTS_INHERIT_RO = RIGHTS_ALL & ~RIGHTS_CHANGE;
/**
 * stdio rights deliberately lack FD_SEEK and FD_TELL: with CHARACTER_DEVICE that is what
 * wasi-libc's isatty() checks, so stdout is line-buffered and live output arrives per line.
 */
export const RIGHTS_STDIN = R.FD_READ | R.FD_FDSTAT_SET_FLAGS | R.FD_FILESTAT_GET | R.POLL_FD_READWRITE;
export const RIGHTS_STDOUT = R.FD_WRITE | R.FD_FDSTAT_SET_FLAGS | R.FD_FILESTAT_GET | R.POLL_FD_READWRITE;

/** Record sizes (bytes). */
export const SIZE = { IOVEC: 8, FDSTAT: 24, FILESTAT: 64, DIRENT: 24, PRESTAT: 8, SUBSCRIPTION: 48, EVENT: 32 } as const;
