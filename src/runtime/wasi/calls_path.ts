/** path_* calls: every path is resolved inside the in-memory tree by Fs.resolve. */
import { FDFLAGS, FILETYPE, LOOKUP_SYMLINK_FOLLOW, OFLAGS, RIGHTS, RIGHTS_ALL, RIGHTS_DIR, RIGHTS_FILE } from './abi.js';
import { E } from './errno.js';
import { Fd, need } from './fds.js';
import type { Fs, Resolved } from './fs.js';
import type { DirNode } from './inode.js';
import type { State } from './state.js';
import { setTimes, writeFilestat } from './stat.js';

/** Resolve a path from directory fd `fd`, which must hold `rights` (checked before the path is read). */
function lookup(s: State, fd: number, rights: bigint, ptr: number, len: number, follow: boolean): Resolved {
  const { node } = s.fds.dir(fd, rights);
  return s.fds.fs().resolve(node, s.mem.string(ptr, len), follow);
}

/** Rights path_open needs on the directory for these oflags and fdflags (typenames.witx, `$rights`). */
function openRights(oflags: number, fdflags: number): bigint {
  let r = RIGHTS.PATH_OPEN;
  if (oflags & OFLAGS.CREAT) r |= RIGHTS.PATH_CREATE_FILE;
  if (oflags & OFLAGS.TRUNC) r |= RIGHTS.PATH_FILESTAT_SET_SIZE;
  if (fdflags & (FDFLAGS.RSYNC | FDFLAGS.SYNC)) r |= RIGHTS.FD_SYNC;
  return r;
}

/** The entry a removing/renaming call acts on: it must have a parent and a real name. */
function entry(r: Resolved): { parent: DirNode; name: string } {
  if (r.parent === null) throw r.node === undefined ? E.NOENT : E.BUSY; // ".", "a/..": not an entry
  return { parent: r.parent, name: r.name };
}

/**
 * The checks of a directory removal, an unlink and a rename, shared by both hosts (this one and
 * the WASI 0.2 host, component/host.ts): what they refuse, both refuse the same way (errno).
 */
export function removeDirectory(fs: Fs, r: Resolved): void {
  if (r.node === undefined) throw E.NOENT;
  if (r.node.type !== FILETYPE.DIRECTORY) throw E.NOTDIR;
  const { parent, name } = entry(r);
  if (r.node.entries.size > 0) throw E.NOTEMPTY;
  fs.detach(parent, name);
}

export function unlinkFile(fs: Fs, r: Resolved): void {
  if (r.node === undefined) throw E.NOENT;
  if (r.node.type === FILETYPE.DIRECTORY) throw E.ISDIR;
  const { parent, name } = entry(r);
  fs.detach(parent, name);
}

export function rename(fs: Fs, from: Resolved, to: Resolved): void {
  const node = from.node;
  if (node === undefined) throw E.NOENT;
  const src = entry(from);
  if (to.parent === null) throw E.BUSY;
  const dst = to.node;
  if (dst === node) return; // same inode (hard links or the same path): a no-op
  if (node.type === FILETYPE.DIRECTORY) {
    if (dst !== undefined && dst.type !== FILETYPE.DIRECTORY) throw E.NOTDIR;
    if (dst?.type === FILETYPE.DIRECTORY && dst.entries.size > 0) throw E.NOTEMPTY;
    // A directory cannot move below itself.
    for (let d: DirNode = to.parent; ; d = d.parent) {
      if (d === node) throw E.INVAL;
      if (d.parent === d) break;
    }
  } else if (dst?.type === FILETYPE.DIRECTORY) {
    throw E.ISDIR;
  }
  fs.rename(src.parent, src.name, to.parent, to.name);
}

export const pathCalls = {
  path_open(s: State, fd: number, dirflags: number, ptr: number, len: number, oflags: number,
    base: bigint, inheriting: bigint, fdflags: number, fdPtr: number): number {
    const { fd: parent, node: from } = s.fds.dir(fd, 0n);
    const fs = s.fds.fs();
    s.mem.check(fdPtr, 4);
    if (fdflags & ~FDFLAGS.ALL) throw E.INVAL;
    need(parent, openRights(oflags, fdflags));
    // fdflags.dsync is allowed by FD_DATASYNC or FD_SYNC (which includes it).
    if (fdflags & FDFLAGS.DSYNC && (parent.base & (RIGHTS.FD_DATASYNC | RIGHTS.FD_SYNC)) === 0n) throw E.NOTCAPABLE;
    // Bits past the 30 defined rights name no right (guests pass -1 for "all"): ignored.
    const b = base & RIGHTS_ALL;
    const i = inheriting & RIGHTS_ALL;
    const r = fs.resolve(from, s.mem.string(ptr, len), (dirflags & LOOKUP_SYMLINK_FOLLOW) !== 0);
    const node = r.node;
    if (node === undefined) {
      if (!(oflags & OFLAGS.CREAT)) throw E.NOENT;
      if (oflags & OFLAGS.DIRECTORY) throw E.INVAL;
      if (r.slash) throw E.ISDIR; // "new/" cannot create a regular file
    } else {
      if (oflags & OFLAGS.CREAT && oflags & OFLAGS.EXCL) throw E.EXIST;
      if (node.type === FILETYPE.SYMBOLIC_LINK) throw E.LOOP; // not followed: O_NOFOLLOW semantics
      if (oflags & OFLAGS.DIRECTORY && node.type !== FILETYPE.DIRECTORY) throw E.NOTDIR;
      // Like open(2) asking for write access to a directory, with or without oflags.directory
      // (opendir asks for no FD_WRITE).
      if (node.type === FILETYPE.DIRECTORY && (oflags & OFLAGS.TRUNC || (b & RIGHTS.FD_WRITE) !== 0n)) throw E.ISDIR;
    }
    // The new fd's rights come from the directory's inheriting rights: asking for more is
    // ENOTCAPABLE. Rights that do not apply to what is opened are dropped silently (the spec
    // allows exactly that): file rights asked of a directory, and any inheriting rights of a
    // regular file (it opens nothing).
    const dir = (node?.type ?? FILETYPE.REGULAR_FILE) === FILETYPE.DIRECTORY;
    const kept = b & (dir ? RIGHTS_DIR : RIGHTS_FILE);
    if ((kept & ~parent.inheriting) !== 0n || (dir && (i & ~parent.inheriting) !== 0n)) throw E.NOTCAPABLE;
    const opened = node ?? fs.attach(r.parent!, r.name, fs.newFile());
    if (node?.type === FILETYPE.REGULAR_FILE && oflags & OFLAGS.TRUNC) fs.setSize(node, 0);
    s.mem.setU32(fdPtr, s.fds.add(new Fd(opened.type, opened, fdflags, kept, i & parent.inheriting, -1)));
    return E.SUCCESS;
  },

  path_create_directory(s: State, fd: number, ptr: number, len: number): number {
    const r = lookup(s, fd, RIGHTS.PATH_CREATE_DIRECTORY, ptr, len, false);
    if (r.node !== undefined) throw E.EXIST;
    const fs = s.fds.fs();
    fs.attach(r.parent!, r.name, fs.newDir());
    return E.SUCCESS;
  },

  path_remove_directory(s: State, fd: number, ptr: number, len: number): number {
    removeDirectory(s.fds.fs(), lookup(s, fd, RIGHTS.PATH_REMOVE_DIRECTORY, ptr, len, false));
    return E.SUCCESS;
  },

  path_unlink_file(s: State, fd: number, ptr: number, len: number): number {
    unlinkFile(s.fds.fs(), lookup(s, fd, RIGHTS.PATH_UNLINK_FILE, ptr, len, false));
    return E.SUCCESS;
  },

  path_rename(s: State, fd: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number): number {
    const from = lookup(s, fd, RIGHTS.PATH_RENAME_SOURCE, oldPtr, oldLen, false);
    const to = lookup(s, newFd, RIGHTS.PATH_RENAME_TARGET, newPtr, newLen, false);
    rename(s.fds.fs(), from, to);
    return E.SUCCESS;
  },

  path_symlink(s: State, oldPtr: number, oldLen: number, fd: number, newPtr: number, newLen: number): number {
    const target = s.mem.string(oldPtr, oldLen);
    if (target.length === 0) throw E.NOENT;
    // Only links that stay inside the tree: an absolute target would name the host's root.
    if (target.charCodeAt(0) === 47) throw E.NOTCAPABLE;
    const r = lookup(s, fd, RIGHTS.PATH_SYMLINK, newPtr, newLen, false);
    if (r.node !== undefined) throw E.EXIST;
    if (r.slash) throw E.NOENT;
    const fs = s.fds.fs();
    fs.attach(r.parent!, r.name, fs.newLink(target));
    return E.SUCCESS;
  },

  path_readlink(s: State, fd: number, ptr: number, len: number, buf: number, bufLen: number, bufused: number): number {
    const r = lookup(s, fd, RIGHTS.PATH_READLINK, ptr, len, false);
    if (r.node === undefined) throw E.NOENT;
    if (r.node.type !== FILETYPE.SYMBOLIC_LINK) throw E.INVAL;
    const bytes = r.node.targetBytes;
    const k = Math.min(bytes.length, bufLen >>> 0); // silently truncated, like readlink(2)
    s.mem.check(bufused, 4);
    s.mem.range(buf, k).set(bytes.subarray(0, k));
    s.mem.setU32(bufused, k);
    return E.SUCCESS;
  },

  path_link(s: State, oldFd: number, oldFlags: number, oldPtr: number, oldLen: number,
    newFd: number, newPtr: number, newLen: number): number {
    const from = lookup(s, oldFd, RIGHTS.PATH_LINK_SOURCE, oldPtr, oldLen, (oldFlags & LOOKUP_SYMLINK_FOLLOW) !== 0);
    if (from.node === undefined) throw E.NOENT;
    if (from.node.type === FILETYPE.DIRECTORY) throw E.PERM;
    const to = lookup(s, newFd, RIGHTS.PATH_LINK_TARGET, newPtr, newLen, false);
    if (to.node !== undefined) throw E.EXIST;
    if (to.slash) throw E.NOENT;
    s.fds.fs().attach(to.parent!, to.name, from.node);
    return E.SUCCESS;
  },

  path_filestat_get(s: State, fd: number, flags: number, ptr: number, len: number, buf: number): number {
    const r = lookup(s, fd, RIGHTS.PATH_FILESTAT_GET, ptr, len, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0);
    if (r.node === undefined) throw E.NOENT;
    writeFilestat(s.mem, buf, r.node);
    return E.SUCCESS;
  },

  path_filestat_set_times(s: State, fd: number, flags: number, ptr: number, len: number,
    atim: bigint, mtim: bigint, fstflags: number): number {
    const r = lookup(s, fd, RIGHTS.PATH_FILESTAT_SET_TIMES, ptr, len, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0);
    if (r.node === undefined) throw E.NOENT;
    setTimes(s.clock, r.node, atim, mtim, fstflags);
    return E.SUCCESS;
  },
};
