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

const decoder = new TextDecoder();
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

  /**
   * Place an input entry (path absolute or relative to "/"), creating parent directories: a
   * file, an empty directory or a symlink (its target as given: resolution keeps it inside the
   * tree). Inputs are not charged against the guest's budgets.
   */
  addInput(entry: FileEntry): void {
    const { path } = entry;
    const parts = path.split('/').filter((p) => p !== '');
    if (parts.length === 0 || parts.some((p) => p === '.' || p === '..')) {
      throw new Error(`input file path ${JSON.stringify(path)} must name a file without "." or ".." components`);
    }
    const dir = this.mkdirs(parts.slice(0, -1), path);
    const name = parts[parts.length - 1]!;
    const existing = dir.entries.get(name);
    // A directory may also be implied by an earlier entry inside it.
    if (entry.kind === 'dir' && existing?.type === FILETYPE.DIRECTORY) return;
    if (existing !== undefined) throw new Error(`input file path ${JSON.stringify(path)} given twice`);
    const now = this.clock.now();
    const node =
      entry.kind === 'dir' ? new DirNode(this.nextIno++, now)
      : entry.kind === 'symlink' ? new LinkNode(this.nextIno++, decoder.decode(entry.bytes), entry.bytes, now)
      : new FileNode(this.nextIno++, entry.bytes, now);
    this.inodes++;
    if (node.type === FILETYPE.REGULAR_FILE) {
      this.used += node.size;
      this.budget += node.size; // inputs do not eat into the guest's allowance
    }
    this.attach(dir, name, node);
  }

  /** The directory at `parts` below the root, created (uncharged, like inputs) where missing. */
  mkdirs(parts: string[], what = '/' + parts.join('/')): DirNode {
    let dir = this.root;
    for (const p of parts) {
      const child = dir.entries.get(p);
      if (child === undefined) {
        this.inodes++;
        dir = this.attach(dir, p, new DirNode(this.nextIno++, this.clock.now()));
      } else if (child.type === FILETYPE.DIRECTORY) dir = child;
      else throw new Error(`input file path ${JSON.stringify(what)}: ${p} is not a directory`);
    }
    return dir;
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

  /**
   * Every regular file the guest created or changed below `roots` (the writable mounts: absolute
   * path and node), with its final bytes, sorted by absolute path.
   */
  modifiedFiles(roots: readonly { path: string; node: DirNode }[]): FileEntry[] {
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
    for (const r of roots) walk(r.node, r.path === '/' ? '' : r.path);
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
