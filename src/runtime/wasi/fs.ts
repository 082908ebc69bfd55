/**
 * The in-memory filesystem: an inode tree rooted at the preopen "/", path resolution that can
 * never leave the tree, and byte/inode budgets so a guest cannot exhaust the host's memory
 * through files (ENOSPC instead).
 */
import type { FileEntry } from '../../domain/index.js';
import { FILETYPE } from './abi.js';
import type { Clock } from './clock.js';
import { E } from './errno.js';
import { DirNode, FileNode, type Inode, LinkNode, truncateTo, writeFrom } from './inode.js';
import { encoder } from './memory.js';
import { resolvePath, type Resolved } from './resolve.js';

export type { Resolved };

export interface FsLimits {
  /** Bytes all files may grow by beyond the input files. */
  maxBytes: number;
  maxInodes: number;
}

export class Fs {
  readonly root: DirNode;
  private nextIno = 1;
  private inodes = 0;
  private used = 0;
  private budget: number;

  constructor(private readonly clock: Clock, private readonly limits: FsLimits) {
    this.root = new DirNode(this.nextIno++, clock.now());
    this.root.nlink = 2; // "." and its own ".." (the preopen has no parent)
    this.budget = limits.maxBytes;
  }

  /** Place an input file (path absolute or relative to "/"), creating parent directories. */
  addInput(path: string, bytes: Uint8Array): void {
    const parts = path.split('/').filter((p) => p !== '');
    if (parts.length === 0 || parts.some((p) => p === '.' || p === '..')) {
      throw new Error(`input file path ${JSON.stringify(path)} must name a file without "." or ".." components`);
    }
    let dir = this.root;
    for (const p of parts.slice(0, -1)) {
      const child = dir.entries.get(p);
      if (child === undefined) dir = this.attach(dir, p, this.newDir());
      else if (child.type === FILETYPE.DIRECTORY) dir = child;
      else throw new Error(`input file path ${JSON.stringify(path)}: ${p} is a file`);
    }
    const name = parts[parts.length - 1]!;
    if (dir.entries.has(name)) throw new Error(`input file path ${JSON.stringify(path)} given twice`);
    const f = new FileNode(this.nextIno++, bytes, this.clock.now());
    this.inodes++;
    this.used += bytes.length;
    this.budget += bytes.length; // inputs do not eat into the guest's allowance
    this.attach(dir, name, f);
  }

  newFile(): FileNode {
    this.charge();
    const f = new FileNode(this.nextIno++, new Uint8Array(0), this.clock.now());
    f.modified = true;
    return f;
  }

  newDir(): DirNode {
    this.charge();
    return new DirNode(this.nextIno++, this.clock.now());
  }

  newLink(target: string): LinkNode {
    this.charge();
    return new LinkNode(this.nextIno++, target, encoder.encode(target), this.clock.now());
  }

  private charge(): void {
    if (this.inodes >= this.limits.maxInodes) throw E.NOSPC;
    this.inodes++;
  }

  /** Throws ENOENT for a directory that was removed: nothing may be created in it any more. */
  static live(dir: DirNode): void {
    if (dir.nlink < 2) throw E.NOENT;
  }

  attach<T extends Inode>(dir: DirNode, name: string, node: T): T {
    Fs.live(dir);
    dir.entries.set(name, node);
    node.nlink++;
    if (node.type === FILETYPE.DIRECTORY) {
      dir.nlink++;
      node.parent = dir;
    }
    dir.mtim = dir.ctim = this.clock.now();
    return node;
  }

  /** Remove an entry. `forget` (default) releases the inode's budget once nothing holds it. */
  detach(dir: DirNode, name: string, forget = true): void {
    const node = dir.entries.get(name);
    if (node === undefined) return;
    dir.entries.delete(name);
    node.nlink--;
    if (node.type === FILETYPE.DIRECTORY) dir.nlink--;
    if (forget) this.release(node);
    dir.mtim = dir.ctim = this.clock.now();
  }

  /**
   * Give an inode's bytes and slot back once it is out of the tree and no descriptor has it
   * open (called at unlink and at the last close): an unlinked file that is still open keeps
   * counting, so "write, unlink, write more" cannot escape the budget.
   */
  release(node: Inode): void {
    const gone = node.type === FILETYPE.DIRECTORY ? node.nlink <= 1 : node.nlink === 0;
    if (!gone || node.opens > 0 || node.released) return;
    node.released = true;
    this.inodes--;
    if (node.type === FILETYPE.REGULAR_FILE) this.used -= node.size;
  }

  /** Write at `pos`, growing the file; ENOSPC/EFBIG when it would pass the byte budget. */
  write(f: FileNode, pos: number, src: Uint8Array[], total: number): void {
    if (total === 0) return;
    this.resize(f, Math.max(f.size, pos + total), () => writeFrom(f, pos, src, total));
  }

  setSize(f: FileNode, size: number): void {
    this.resize(f, size, () => truncateTo(f, size));
  }

  private resize(f: FileNode, size: number, apply: () => void): void {
    if (!Number.isSafeInteger(size)) throw E.FBIG;
    const delta = size - f.size;
    if (delta > 0 && this.used + delta > this.budget) throw E.NOSPC;
    apply();
    this.used += delta;
    f.modified = true;
    f.mtim = f.ctim = this.clock.now();
  }

  /** See resolvePath: the path rules live there. */
  resolve(start: DirNode, path: string, follow: boolean): Resolved {
    return resolvePath(start, path, follow);
  }

  /** Every regular file the guest created or changed, with its final bytes, sorted by path. */
  modifiedFiles(): FileEntry[] {
    const out: FileEntry[] = [];
    const walk = (dir: DirNode, prefix: string): void => {
      for (const [name, node] of dir.entries) {
        const path = `${prefix}/${name}`;
        if (node.type === FILETYPE.DIRECTORY) walk(node, path);
        else if (node.type === FILETYPE.REGULAR_FILE && node.modified) {
          out.push({ path, bytes: node.data.slice(0, node.size) });
        }
      }
    };
    walk(this.root, '');
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Move an entry, replacing whatever `newName` held (the caller checked the POSIX rules). */
  rename(oldDir: DirNode, oldName: string, newDir: DirNode, newName: string): void {
    Fs.live(newDir); // before anything moves
    const node = oldDir.entries.get(oldName)!;
    this.detach(newDir, newName);
    this.detach(oldDir, oldName, false);
    this.attach(newDir, newName, node);
    node.ctim = this.clock.now();
    this.markMoved(node);
  }

  /** Mark every file under `node` modified: a moved directory reports its files at their new paths. */
  markMoved(node: Inode): void {
    if (node.type === FILETYPE.REGULAR_FILE) node.modified = true;
    else if (node.type === FILETYPE.DIRECTORY) for (const c of node.entries.values()) this.markMoved(c);
  }
}
