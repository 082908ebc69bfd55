/**
 * The file descriptor table: 0-2 are stdio, then one preopened directory per mount (3, 4, … in
 * the order declared; by default "/" alone at 3). The filesystem (and the preopens) are built
 * on the first touch of an fd >= 3, so a task that only prints pays nothing for them. New fds
 * take the lowest free number (deterministic).
 */
import type { Mount } from '../../domain/index.js';
import { FILETYPE, RIGHTS_ALL, RIGHTS_DIR, RIGHTS_DIR_RO, RIGHTS_INHERIT_RO, RIGHTS_STDIN, RIGHTS_STDOUT } from './abi.js';
import { E } from './errno.js';
import type { Fs } from './fs.js';
import type { DirNode, FileNode, Inode } from './inode.js';

/** Past this many open descriptors path_open answers EMFILE (each one is host memory). */
const MAX_FDS = 4096;

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const PREOPEN_FD = 3;

export class Fd {
  /** Byte offset for files; the readdir position is the cookie the guest passes instead. */
  pos = 0;
  constructor(
    readonly type: number,
    /** null for stdio. */
    readonly node: Inode | null,
    public flags: number,
    public base: bigint,
    public inheriting: bigint,
    /** 0, 1, 2 for stdio, -1 otherwise. */
    readonly stdio: number,
    /** The preopen's name for fd_prestat_*, null for everything else. */
    readonly preopen: string | null = null,
  ) {}
}

/** Every bit of `rights` must be among the descriptor's base rights, else ENOTCAPABLE (the spec's errno for a missing right). */
export function need(f: Fd, rights: bigint): void {
  if ((f.base & rights) !== rights) throw E.NOTCAPABLE;
}

export class FdTable {
  private readonly fds: (Fd | undefined)[] = [
    new Fd(FILETYPE.CHARACTER_DEVICE, null, 0, RIGHTS_STDIN, 0n, STDIN),
    new Fd(FILETYPE.CHARACTER_DEVICE, null, 0, RIGHTS_STDOUT, 0n, STDOUT),
    new Fd(FILETYPE.CHARACTER_DEVICE, null, 0, RIGHTS_STDOUT, 0n, STDERR),
  ];
  private fsCache: Fs | null = null;
  private open = 3;
  /** The writable mounts' directories: where result() looks for files. */
  readonly writable: { path: string; node: DirNode }[] = [];

  constructor(private readonly makeFs: () => Fs, private readonly mounts: readonly Mount[]) {}

  /** The filesystem, built (with the mounts' preopens from fd 3 on) on first use. */
  fs(): Fs {
    if (this.fsCache === null) {
      const fs = (this.fsCache = this.makeFs());
      this.mounts.forEach((m, i) => {
        const node = fs.mkdirs(m.path.split('/').filter((p) => p !== ''));
        const base = m.readOnly ? RIGHTS_DIR_RO : RIGHTS_DIR;
        this.fds[PREOPEN_FD + i] = new Fd(FILETYPE.DIRECTORY, node, 0, base, m.readOnly ? RIGHTS_INHERIT_RO : RIGHTS_ALL, -1, m.path);
        node.opens++;
        this.open++;
        if (!m.readOnly) this.writable.push({ path: m.path, node });
      });
    }
    return this.fsCache;
  }

  /** Built yet? result() must not build a filesystem just to find it empty. */
  fsIfBuilt(): Fs | null {
    return this.fsCache;
  }

  get(fd: number): Fd {
    if (fd >= PREOPEN_FD && this.fsCache === null) this.fs();
    const f = this.fds[fd >>> 0];
    if (f === undefined) throw E.BADF;
    return f;
  }

  /**
   * A regular-file fd holding `rights`; EISDIR for a directory, `notFile` (EBADF or ESPIPE) for
   * stdio. The kind of descriptor is checked before its rights: a directory never has FD_READ,
   * and EISDIR says more than ENOTCAPABLE.
   */
  file(fd: number, rights: bigint, notFile: number = E.BADF): { fd: Fd; node: FileNode } {
    const f = this.get(fd);
    if (f.node === null) throw notFile;
    if (f.node.type !== FILETYPE.REGULAR_FILE) throw f.node.type === FILETYPE.DIRECTORY ? E.ISDIR : E.BADF;
    need(f, rights);
    return { fd: f, node: f.node };
  }

  /** A directory fd holding `rights`; ENOTDIR for anything else. */
  dir(fd: number, rights: bigint): { fd: Fd; node: DirNode } {
    const f = this.get(fd);
    if (f.node === null || f.node.type !== FILETYPE.DIRECTORY) throw E.NOTDIR;
    need(f, rights);
    return { fd: f, node: f.node };
  }

  /** Install a descriptor at the lowest free number. */
  add(f: Fd): number {
    if (this.open >= MAX_FDS) throw E.MFILE;
    let n = PREOPEN_FD;
    while (this.fds[n] !== undefined) n++;
    this.fds[n] = f;
    this.open++;
    if (f.node !== null) f.node.opens++;
    return n;
  }

  close(fd: number): void {
    this.drop(this.get(fd));
    this.fds[fd >>> 0] = undefined;
  }

  private drop(f: Fd): void {
    this.open--;
    if (f.node !== null && --f.node.opens === 0) this.fsCache?.release(f.node);
  }

  /** fd_renumber: both must be open (as in wasmtime); `to` is closed and replaced by `from`. */
  renumber(from: number, to: number): void {
    const f = this.get(from);
    const old = this.get(to);
    if (from >>> 0 === to >>> 0) return;
    this.drop(old);
    this.fds[to >>> 0] = f;
    this.fds[from >>> 0] = undefined;
  }
}
