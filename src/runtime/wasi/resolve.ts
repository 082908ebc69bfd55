/**
 * Path resolution inside the in-memory tree. This is the sandbox's filesystem boundary: nothing
 * it returns lies outside the directory it started from.
 */
import { FILETYPE } from './abi.js';
import { E } from './errno.js';
import type { DirNode, Inode } from './inode.js';

export interface Resolved {
  /** The directory holding `name`; null when the path named a directory itself ("." or "a/.."). */
  parent: DirNode | null;
  name: string;
  node: Inode | undefined;
  /** The path ended in "/" or "/.": whatever it names must be (or become) a directory. */
  slash: boolean;
}

const PATH_MAX = 4096;
const NAME_MAX = 255;
const SYMLOOP_MAX = 40;

/**
 * Resolve `path` relative to `start`. Intermediate symlinks are always followed, the last one
 * only with `follow` (or a trailing slash). `..` may not climb above `start` and symlink
 * targets may not be absolute: both answer ENOTCAPABLE, so nothing outside the tree is named.
 */
export function resolvePath(start: DirNode, path: string, follow: boolean): Resolved {
  if (path.length === 0) throw E.NOENT;
  if (path.length > PATH_MAX) throw E.NAMETOOLONG;
  if (path.charCodeAt(0) === 47 /* '/' */) throw E.NOTCAPABLE;
  if (path.includes('\0')) throw E.INVAL;
  const parts = path.split('/');
  let mustBeDir = false;
  while (parts.length > 1 && (parts[parts.length - 1] === '' || parts[parts.length - 1] === '.')) {
    parts.pop();
    mustBeDir = true;
  }
  parts.reverse(); // a stack: pop() yields the next component
  const stack: DirNode[] = [start];
  let links = 0;
  while (parts.length > 0) {
    const comp = parts.pop()!;
    if (comp === '' || comp === '.') continue;
    if (comp === '..') {
      if (stack.length === 1) throw E.NOTCAPABLE;
      stack.pop();
      continue;
    }
    if (comp.length > NAME_MAX) throw E.NAMETOOLONG;
    const dir = stack[stack.length - 1]!;
    const child = dir.entries.get(comp);
    const last = parts.length === 0;
    if (child?.type === FILETYPE.SYMBOLIC_LINK && (!last || follow || mustBeDir)) {
      if (++links > SYMLOOP_MAX) throw E.LOOP;
      if (child.target.charCodeAt(0) === 47) throw E.NOTCAPABLE;
      const t = child.target.split('/');
      for (let i = t.length - 1; i >= 0; i--) parts.push(t[i]!);
      continue;
    }
    if (last) {
      if (mustBeDir && child !== undefined && child.type !== FILETYPE.DIRECTORY) throw E.NOTDIR;
      return { parent: dir, name: comp, node: child, slash: mustBeDir };
    }
    if (child === undefined) throw E.NOENT;
    if (child.type !== FILETYPE.DIRECTORY) throw E.NOTDIR;
    stack.push(child);
  }
  return { parent: null, name: '.', node: stack[stack.length - 1], slash: true };
}
