/**
 * Mounts: a task's preopened directories (none, "/" by default, or several named ones, some
 * read-only), input directories and symlinks, and which files come back.
 */
import { describe, expect, it } from 'vitest';
import { WASI_ERRNO as E } from '../../src/runtime/wasi/index.js';
import { buildShim, dec, enc, FILETYPE, Guest, input, O, RIGHT_READ, RIGHT_WRITE, RIGHTS_ALL } from '../helpers/wasi-guest.js';

buildShim();

const PATH_OPEN = 1n << 13n;
const READDIR = 1n << 14n;
const IN_OUT = [{ path: '/in', readOnly: true }, { path: '/out', readOnly: false }];

function prestatName(g: Guest, fd: number): { errno: number; name: string } {
  const p = g.alloc(8);
  const errno = g.call('fd_prestat_get', fd, p);
  if (errno !== 0) return { errno, name: '' };
  const len = g.u32(p + 4);
  const buf = g.alloc(len);
  expect(g.call('fd_prestat_dir_name', fd, buf, len)).toBe(0);
  return { errno, name: dec.decode(g.u8.slice(buf, buf + len)) };
}

describe('wasi mounts', () => {
  it('no mounts: no preopen at all, and no fd 3', () => {
    const g = new Guest({ mounts: [] });
    expect(prestatName(g, 3).errno).toBe(E.BADF);
    expect(g.open('a', { oflags: O.CREAT }).errno).toBe(E.BADF);
    expect(g.write(1, 'still prints').errno).toBe(0);
    expect(g.host.result().files).toEqual([]);
    expect(() => new Guest({ mounts: [], files: [input('/a', 'x')] })).toThrow(/not inside a mount/);
  });

  it('several mounts are fds 3, 4, … in order, each named by fd_prestat_dir_name', () => {
    const g = new Guest({ mounts: [...IN_OUT, { path: '/var/tmp', readOnly: false }] });
    expect([3, 4, 5].map((fd) => prestatName(g, fd).name)).toEqual(['/in', '/out', '/var/tmp']);
    expect(prestatName(g, 6).errno).toBe(E.BADF);
    // The first free descriptor comes after the preopens.
    expect(g.open('f', { dir: 4, oflags: O.CREAT })).toEqual({ errno: 0, fd: 6 });
  });

  it('a read-only mount can be read but nothing in it created, changed, moved or linked out', () => {
    const g = new Guest({ mounts: IN_OUT, files: [input('/in/a.txt', 'input'), input('/in/sub/b.txt', 'b')] });
    const ro = g.fd('a.txt', { rights: RIGHT_READ });
    expect(g.read(ro, 10).text).toBe('input');
    expect(g.open('a.txt', { rights: RIGHT_READ | RIGHT_WRITE }).errno).toBe(E.NOTCAPABLE);
    expect(g.open('a.txt', { rights: RIGHT_READ, oflags: O.TRUNC }).errno).toBe(E.NOTCAPABLE);
    expect(g.open('new', { rights: RIGHT_READ, oflags: O.CREAT }).errno).toBe(E.NOTCAPABLE);
    // Directories below it inherit the restriction.
    const sub = g.fd('sub', { oflags: O.DIRECTORY, rights: PATH_OPEN, inheriting: RIGHT_READ });
    expect(g.open('sub', { oflags: O.DIRECTORY, rights: PATH_OPEN, inheriting: RIGHTS_ALL }).errno).toBe(E.NOTCAPABLE);
    expect(g.open('b.txt', { dir: sub, rights: RIGHT_WRITE }).errno).toBe(E.NOTCAPABLE);
    expect(g.path('path_unlink_file', 'a.txt')).toBe(E.NOTCAPABLE);
    expect(g.path('path_create_directory', 'd')).toBe(E.NOTCAPABLE);
    expect(g.call('path_rename', 3, ...g.put('a.txt'), 4, ...g.put('a.txt'))).toBe(E.NOTCAPABLE);
    expect(g.call('path_link', 3, 0, ...g.put('a.txt'), 4, ...g.put('a.txt'))).toBe(E.NOTCAPABLE);
    expect(g.call('path_symlink', ...g.put('a.txt'), 3, ...g.put('l'))).toBe(E.NOTCAPABLE);
    expect(g.call('path_filestat_set_times', 3, 0, ...g.put('a.txt'), 0n, 0n, 2)).toBe(E.NOTCAPABLE);
    // The writable mount cannot reach it: ".." stops at the preopen.
    expect(g.open('../in/a.txt', { dir: 4 }).errno).toBe(E.NOTCAPABLE);
    const out = g.fd('r.txt', { dir: 4, oflags: O.CREAT });
    expect(g.write(out, 'result').errno).toBe(0);
    expect(g.files()).toEqual([['/out/r.txt', 'result']]);
  });

  it('reports files only from writable mounts, with absolute paths', () => {
    const g = new Guest({ mounts: [{ path: '/a', readOnly: false }, { path: '/b/c', readOnly: false }], files: [input('/a/in', 'x')] });
    g.write(g.fd('in', { oflags: O.TRUNC }), 'y');
    g.write(g.fd('deep', { dir: 4, oflags: O.CREAT }), 'z');
    expect(g.files()).toEqual([['/a/in', 'y'], ['/b/c/deep', 'z']]);
  });

  it('takes empty directories and symlinks as inputs', () => {
    const g = new Guest({
      mounts: IN_OUT,
      files: [
        input('/in/a.txt', 'input'),
        { path: '/in/empty', bytes: new Uint8Array(0), kind: 'dir' },
        { path: '/in/sub/link', bytes: enc.encode('../a.txt'), kind: 'symlink' },
        { path: '/out/made', bytes: new Uint8Array(0), kind: 'dir' },
      ],
    });
    expect(g.stat('empty')).toMatchObject({ errno: 0, filetype: FILETYPE.DIR });
    expect(g.readdir(g.fd('empty', { oflags: O.DIRECTORY, rights: READDIR, inheriting: 0n }), 256).entries.map((e) => e.name)).toEqual(['.', '..']);
    expect(g.readlink('sub/link').target).toBe('../a.txt');
    expect(g.stat('sub/link')).toMatchObject({ filetype: FILETYPE.SYMLINK });
    expect(g.read(g.fd('sub/link', { follow: true, rights: RIGHT_READ }), 10).text).toBe('input');
    expect(g.open('made/x', { dir: 4, oflags: O.CREAT }).errno).toBe(0);
    expect(g.host.result().files.map((f) => f.path)).toEqual(['/out/made/x']);
  });

  it('refuses overlapping mounts and inputs outside every mount', () => {
    expect(() => new Guest({ mounts: [{ path: '/', readOnly: false }, { path: '/in', readOnly: true }] })).toThrow(/overlap/);
    expect(() => new Guest({ mounts: [{ path: '/in', readOnly: false }, { path: '/in', readOnly: true }] })).toThrow(/overlap/);
    expect(() => new Guest({ mounts: IN_OUT, files: [input('/other/a', 'x')] })).toThrow(/not inside a mount/);
    expect(() => new Guest({ mounts: IN_OUT, files: [input('/in', 'x')] })).toThrow(/not inside a mount/);
    expect(() => new Guest({ mounts: IN_OUT, files: [input('/input', 'x')] })).toThrow(/not inside a mount/);
  });
});
