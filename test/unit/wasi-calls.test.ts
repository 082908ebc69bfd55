/**
 * The WASI host call by call (test/helpers/wasi-guest.ts drives each import through real wasm).
 */
import { describe, expect, it } from 'vitest';
import { makeWasiHost, WASI_ERRNO as E } from '../../src/runtime/wasi/index.js';
import { APPEND, buildShim, dec, enc, FILETYPE, FOLLOW, Guest, input, O, RIGHT_READ, RIGHT_WRITE, RIGHTS_ALL } from '../helpers/wasi-guest.js';

buildShim();

describe('wasi calls: descriptors and preopens', () => {
  it('preopens "/" at fd 3 and answers EBADF for every other fd', () => {
    const g = new Guest();
    const p = g.alloc(8);
    expect(g.call('fd_prestat_get', 3, p)).toBe(0);
    expect([g.u8[p], g.u32(p + 4)]).toEqual([0, 1]);
    const name = g.alloc(8);
    expect(g.call('fd_prestat_dir_name', 3, name, 0)).toBe(E.NAMETOOLONG);
    expect(g.call('fd_prestat_dir_name', 3, name, 1)).toBe(0);
    expect(g.u8[name]).toBe('/'.charCodeAt(0));
    for (const fd of [0, 1, 2, 4, 99, -1]) expect(g.call('fd_prestat_get', fd, p), `fd ${fd}`).toBe(E.BADF);
    expect(g.call('fd_prestat_dir_name', 99, name, 1)).toBe(E.BADF);
  });

  it('answers EBADF for calls on an unknown fd', () => {
    const g = new Guest();
    const p = g.alloc(64);
    expect(g.write(99, 'x').errno).toBe(E.BADF);
    expect(g.read(99, 4).errno).toBe(E.BADF);
    expect(g.call('fd_close', 99)).toBe(E.BADF);
    expect(g.seek(99, 0n, 0).errno).toBe(E.BADF);
    expect(g.call('fd_tell', 99, p)).toBe(E.BADF);
    expect(g.call('fd_fdstat_get', 99, p)).toBe(E.BADF);
    expect(g.call('fd_filestat_get', 99, p)).toBe(E.BADF);
    expect(g.call('fd_sync', 99)).toBe(E.BADF);
    expect(g.call('fd_renumber', 99, 1)).toBe(E.BADF);
    expect(g.call('fd_renumber', 1, 99)).toBe(E.BADF);
    expect(g.open('x', { dir: 99 }).errno).toBe(E.BADF);
    expect(g.call('sock_accept', 99, 0, p)).toBe(E.BADF);
  });

  it('describes stdio as character devices that are written, not seeked', () => {
    const g = new Guest();
    const p = g.alloc(24);
    expect(g.call('fd_fdstat_get', 1, p)).toBe(0);
    expect(g.u8[p]).toBe(FILETYPE.CHAR);
    expect(g.u64(p + 8) & RIGHT_WRITE).toBe(RIGHT_WRITE);
    expect(g.u64(p + 8) & (1n << 2n)).toBe(0n); // no FD_SEEK: wasi-libc's isatty() says yes
    expect(g.fstat(0)).toMatchObject({ errno: 0, filetype: FILETYPE.CHAR, size: 0n });
    expect(g.seek(1, 0n, 0).errno).toBe(E.SPIPE);
    expect(g.call('fd_tell', 0, p)).toBe(E.SPIPE);
    expect(g.read(1, 4).errno).toBe(E.NOTCAPABLE); // stdout has no FD_READ
    expect(g.write(0, 'x').errno).toBe(E.NOTCAPABLE);
  });

  it('renumbers: the file replaces stdout and the old number is gone', () => {
    const g = new Guest();
    const fd = g.fd('out.txt', { oflags: O.CREAT });
    expect(g.call('fd_renumber', fd, 1)).toBe(0);
    expect(g.write(1, 'into the file').errno).toBe(0);
    expect(g.write(fd, 'x').errno).toBe(E.BADF);
    expect(g.host.result().stdout).toHaveLength(0);
    expect(g.files()).toEqual([['/out.txt', 'into the file']]);
    expect(g.call('fd_renumber', 1, 1)).toBe(0);
  });

  it('closes, reuses the lowest free number and caps open descriptors', () => {
    const g = new Guest({ files: [input('a', '')] });
    const a = g.fd('a');
    expect(a).toBe(4);
    expect(g.call('fd_close', a)).toBe(0);
    expect(g.call('fd_close', a)).toBe(E.BADF);
    expect(g.fd('a')).toBe(4);
    // 4096 descriptors in all: stdio, the preopen and 4 (still open) leave 4091 more.
    let opened = 0;
    while (g.open('a').errno === 0) opened++;
    expect(opened).toBe(4091);
    expect(g.open('a').errno).toBe(E.MFILE);
    g.call('fd_close', 4);
    expect(g.open('a')).toEqual({ errno: 0, fd: 4 });
  });

  it('keeps fdstat flags and rights; rights only shrink', () => {
    const g = new Guest();
    const fd = g.fd('f', { oflags: O.CREAT, fdflags: APPEND });
    const p = g.alloc(24);
    g.call('fd_fdstat_get', fd, p);
    expect([g.u8[p], g.dv.getUint16(p + 2, true)]).toEqual([FILETYPE.FILE, APPEND]);
    expect(g.call('fd_fdstat_set_flags', fd, 0)).toBe(0);
    expect(g.call('fd_fdstat_set_flags', fd, 1 << 8)).toBe(E.INVAL);
    expect(g.call('fd_fdstat_set_rights', fd, RIGHT_READ, 0n)).toBe(0);
    expect(g.call('fd_fdstat_set_rights', fd, RIGHT_READ | RIGHT_WRITE, 0n)).toBe(E.NOTCAPABLE);
    expect(g.write(fd, 'x').errno).toBe(E.NOTCAPABLE); // write right dropped
  });

  it('stubs sockets, signals and yields with proper errnos', () => {
    const g = new Guest();
    const p = g.alloc(16);
    expect(g.call('sock_accept', 1, 0, p)).toBe(E.NOTSOCK);
    expect(g.call('sock_recv', 0, p, 0, 0, p, p + 4)).toBe(E.NOTSOCK);
    expect(g.call('sock_send', 1, p, 0, 0, p)).toBe(E.NOTSOCK);
    expect(g.call('sock_shutdown', 3, 0)).toBe(E.NOTSOCK);
    expect(g.call('proc_raise', 9)).toBe(E.NOSYS);
    expect(g.call('sched_yield')).toBe(0);
  });

  it('answers clock_res_get/clock_time_get for the four clocks and EINVAL beyond', () => {
    const g = new Guest();
    const p = g.alloc(8);
    for (const id of [0, 1, 2, 3]) {
      expect(g.call('clock_res_get', id, p)).toBe(0);
      expect(g.u64(p) > 0n).toBe(true);
      expect(g.call('clock_time_get', id, 0n, p)).toBe(0);
    }
    expect(g.call('clock_res_get', 4, p)).toBe(E.INVAL);
    expect(g.call('clock_time_get', 4, 0n, p)).toBe(E.INVAL);
    expect(g.call('clock_time_get', 0, 0n, 1 << 20)).toBe(E.FAULT);
  });

  it('polls: fd subscriptions are ready at once, nsubscriptions 0 is EINVAL', () => {
    const g = new Guest({ stdin: enc.encode('12345') });
    const subs = g.alloc(48 * 3);
    const evs = g.alloc(32 * 3);
    const n = g.alloc(4);
    const sub = (i: number, userdata: bigint, tag: number, fdOrClock: number, timeout = 0n) => {
      g.dv.setBigUint64(subs + i * 48, userdata, true);
      g.u8[subs + i * 48 + 8] = tag;
      g.dv.setUint32(subs + i * 48 + 16, fdOrClock, true);
      g.dv.setBigUint64(subs + i * 48 + 24, timeout, true);
    };
    sub(0, 1n, 1, 0); // stdin readable
    sub(1, 2n, 2, 1); // stdout writable
    sub(2, 3n, 0, 1, 10_000_000_000n); // a 10 s clock: must not be waited for
    const t0 = performance.now();
    expect(g.call('poll_oneoff', subs, evs, 3, n)).toBe(0);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(g.u32(n)).toBe(2);
    expect([g.u64(evs), g.dv.getUint16(evs + 8, true), g.u8[evs + 10], g.u64(evs + 16)]).toEqual([1n, 0, 1, 5n]);
    expect([g.u64(evs + 32), g.u8[evs + 42]]).toEqual([2n, 2]);
    sub(0, 4n, 1, 77);
    expect(g.call('poll_oneoff', subs, evs, 1, n)).toBe(0);
    expect([g.u32(n), g.dv.getUint16(evs + 8, true)]).toEqual([1, E.BADF]);
    expect(g.call('poll_oneoff', subs, evs, 0, n)).toBe(E.INVAL);
  });

  it('deterministic poll advances the virtual clock instead of sleeping', () => {
    const g = new Guest({ deterministic: { seed: 1, epochMs: 1000 } });
    const subs = g.alloc(48);
    const evs = g.alloc(32);
    const p = g.alloc(8);
    g.dv.setUint32(subs + 16, 0, true); // realtime, absolute: one hour after the epoch
    g.dv.setBigUint64(subs + 24, 1000n * 1_000_000n + 3600n * 1_000_000_000n, true);
    g.dv.setUint16(subs + 40, 1, true);
    const t0 = performance.now();
    expect(g.call('poll_oneoff', subs, evs, 1, p)).toBe(0);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(g.call('clock_time_get', 0, 0n, p)).toBe(0);
    expect(g.u64(p)).toBe(1000n * 1_000_000n + 3600n * 1_000_000_000n);
  });
});

describe('wasi calls: files', () => {
  it('reads input files, nested and absolute paths alike', () => {
    const g = new Guest({ files: [input('/in.txt', 'hello input'), input('data/deep/x.csv', 'a,b\n')] });
    const fd = g.fd('in.txt');
    expect(g.read(fd, 5)).toEqual({ errno: 0, text: 'hello' });
    expect(g.read(fd, 100)).toEqual({ errno: 0, text: ' input' });
    expect(g.read(fd, 100)).toEqual({ errno: 0, text: '' });
    expect(g.read(g.fd('data/deep/x.csv'), 100).text).toBe('a,b\n');
    expect(g.stat('data/deep').filetype).toBe(FILETYPE.DIR);
    expect(g.files()).toEqual([]); // nothing written: nothing reported
  });

  it('rejects bad input paths when the host is built', () => {
    const make = (files: { path: string; bytes: Uint8Array }[]) => () => makeWasiHost({ args: [], env: {}, stdin: new Uint8Array(0), files, maxOutputBytes: 1, hardOutputBytes: 1 });
    expect(make([input('../etc/passwd', '')])).toThrow(/\.\./);
    expect(make([input('/', '')])).toThrow();
    expect(make([input('a', ''), input('/a', '')])).toThrow(/twice/);
    expect(make([input('a', ''), input('a/b', '')])).toThrow(/is not a directory/);
  });

  it('creates files that come back from result(), sorted, with final contents', () => {
    const g = new Guest({ files: [input('keep.txt', 'same')] });
    g.call('path_create_directory', 3, ...g.put('sub'));
    g.write(g.fd('sub/z.txt', { oflags: O.CREAT }), 'zzz');
    const fd = g.fd('b.txt', { oflags: O.CREAT });
    g.write(fd, 'first ');
    g.write(fd, 'second');
    g.fd('empty', { oflags: O.CREAT });
    expect(g.files()).toEqual([['/b.txt', 'first second'], ['/empty', ''], ['/sub/z.txt', 'zzz']]);
  });

  it('never changes the caller\'s input bytes (copy on write)', () => {
    const bytes = enc.encode('original');
    const g = new Guest({ files: [{ path: 'f', bytes }] });
    g.write(g.fd('f'), 'CHANGED!');
    expect(dec.decode(bytes)).toBe('original');
    expect(g.files()).toEqual([['/f', 'CHANGED!']]);
  });

  it('honours creat, excl, directory and trunc', () => {
    const g = new Guest({ files: [input('in', 'data')] });
    expect(g.open('missing').errno).toBe(E.NOENT);
    expect(g.open('in', { oflags: O.CREAT | O.EXCL }).errno).toBe(E.EXIST);
    expect(g.open('new', { oflags: O.CREAT | O.EXCL }).errno).toBe(0);
    expect(g.open('new', { oflags: O.CREAT | O.EXCL }).errno).toBe(E.EXIST);
    expect(g.open('in', { oflags: O.DIRECTORY }).errno).toBe(E.NOTDIR);
    expect(g.open('nodir', { oflags: O.CREAT | O.DIRECTORY }).errno).toBe(E.INVAL);
    expect(g.open('newfile/', { oflags: O.CREAT }).errno).toBe(E.ISDIR);
    expect(g.open('in/', {}).errno).toBe(E.NOTDIR);
    expect(g.open('.', { oflags: O.TRUNC }).errno).toBe(E.ISDIR);
    expect(g.open('.', { rights: RIGHT_WRITE }).errno).toBe(E.ISDIR);
    expect(g.stat('in').size).toBe(4n);
    g.fd('in', { oflags: O.TRUNC });
    expect(g.stat('in').size).toBe(0n);
    expect(g.files()).toEqual([['/in', ''], ['/new', '']]);
  });

  it('enforces read and write rights of the descriptor', () => {
    const g = new Guest({ files: [input('in', 'data')] });
    const ro = g.fd('in', { rights: RIGHT_READ });
    expect(g.write(ro, 'x').errno).toBe(E.NOTCAPABLE);
    const wo = g.fd('in', { rights: RIGHT_WRITE });
    expect(g.read(wo, 4).errno).toBe(E.NOTCAPABLE);
    expect(g.read(3, 4).errno).toBe(E.ISDIR);
    expect(g.write(3, 'x').errno).toBe(E.ISDIR);
  });

  it('appends with fdflags.append wherever the offset is', () => {
    const g = new Guest({ files: [input('log', 'one\n')] });
    const fd = g.fd('log', { fdflags: APPEND });
    g.seek(fd, 0n, 0);
    g.write(fd, 'two\n');
    expect(g.seek(fd, 0n, 1).pos).toBe(8n);
    expect(g.files()).toEqual([['/log', 'one\ntwo\n']]);
  });

  it('seeks and tells; a write past the end leaves a zero-filled gap', () => {
    const g = new Guest({ files: [input('f', '0123456789')] });
    const fd = g.fd('f');
    expect(g.seek(fd, 3n, 0)).toEqual({ errno: 0, pos: 3n });
    expect(g.seek(fd, 2n, 1)).toEqual({ errno: 0, pos: 5n });
    expect(g.seek(fd, -1n, 2)).toEqual({ errno: 0, pos: 9n });
    expect(g.read(fd, 10).text).toBe('9');
    const p = g.alloc(8);
    expect(g.call('fd_tell', fd, p)).toBe(0);
    expect(g.u64(p)).toBe(10n);
    expect(g.seek(fd, -11n, 1).errno).toBe(E.INVAL);
    expect(g.seek(fd, 0n, 3).errno).toBe(E.INVAL);
    expect(g.seek(3, 0n, 0).errno).toBe(E.ISDIR);
    g.seek(fd, 12n, 0);
    g.write(fd, 'X');
    expect(g.files()).toEqual([['/f', '0123456789\0\0X']]);
  });

  it('preads and pwrites without moving the offset', () => {
    const g = new Guest({ files: [input('f', 'abcdef')] });
    const fd = g.fd('f');
    expect(g.read(fd, 3, 2n)).toEqual({ errno: 0, text: 'cde' });
    expect(g.write(fd, 'XY', 4n)).toEqual({ errno: 0, n: 2 });
    expect(g.read(fd, 100, 100n).text).toBe('');
    expect(g.read(fd, 1, -1n).errno).toBe(E.INVAL);
    expect(g.read(fd, 100).text).toBe('abcdXY');
    expect(g.read(1, 1, 0n).errno).toBe(E.SPIPE);
  });

  it('sets sizes (zero-extended, truncated) and reports them by fd and by path', () => {
    const g = new Guest({ files: [input('f', 'abcdef')] });
    const fd = g.fd('f');
    expect(g.call('fd_filestat_set_size', fd, 2n)).toBe(0);
    expect(g.fstat(fd)).toMatchObject({ errno: 0, filetype: FILETYPE.FILE, size: 2n });
    expect(g.call('fd_filestat_set_size', fd, 4n)).toBe(0);
    expect(g.stat('f')).toMatchObject({ errno: 0, filetype: FILETYPE.FILE, size: 4n, nlink: 1n });
    expect(g.files()).toEqual([['/f', 'ab\0\0']]);
    expect(g.call('fd_allocate', fd, 0n, 6n)).toBe(0);
    expect(g.stat('f').size).toBe(6n);
    expect(g.call('fd_filestat_set_size', 3, 0n)).toBe(E.ISDIR);
    expect(g.call('fd_advise', fd, 0n, 6n, 1)).toBe(0);
    expect(g.call('fd_advise', fd, 0n, 6n, 9)).toBe(E.INVAL);
    expect(g.call('fd_sync', fd)).toBe(0);
    expect(g.call('fd_datasync', fd)).toBe(0);
  });

  it('lists directories with cookies, "." and "..", and cuts the last entry to the buffer', () => {
    const g = new Guest({ files: [input('d/a.txt', '1'), input('d/bb.txt', '22')] });
    g.call('path_create_directory', 3, ...g.put('d/sub'));
    g.call('path_symlink', ...g.put('a.txt'), 3, ...g.put('d/ln'));
    const fd = g.fd('d', { oflags: O.DIRECTORY });
    const all = g.readdir(fd, 4096);
    expect(all.errno).toBe(0);
    expect(all.entries.map((e) => [e.name, e.type, e.next])).toEqual([
      ['.', FILETYPE.DIR, 1n], ['..', FILETYPE.DIR, 2n], ['a.txt', FILETYPE.FILE, 3n],
      ['bb.txt', FILETYPE.FILE, 4n], ['sub', FILETYPE.DIR, 5n], ['ln', FILETYPE.SYMLINK, 6n],
    ]);
    expect(all.used).toBeLessThan(4096);
    expect(all.entries[0]!.ino).toBe(g.stat('d').ino);
    expect(all.entries[1]!.ino).toBe(g.stat('.').ino);
    // 24 + 1 + 24 + 2 = 51 bytes for "." and ".."; 60 leaves 9 bytes of "a.txt"'s header.
    const cut = g.readdir(fd, 60);
    expect(cut.used).toBe(60);
    expect(cut.entries.map((e) => e.name)).toEqual(['.', '..']);
    const rest = g.readdir(fd, 4096, cut.entries[1]!.next);
    expect(rest.entries.map((e) => e.name)).toEqual(['a.txt', 'bb.txt', 'sub', 'ln']);
    expect(g.readdir(fd, 4096, 6n)).toMatchObject({ errno: 0, used: 0 });
    expect(g.readdir(fd, 4096, 1000n).used).toBe(0);
    expect(g.readdir(g.fd('d/a.txt'), 100).errno).toBe(E.NOTDIR);
  });

  it('makes and removes directories (EEXIST, ENOTEMPTY, ENOTDIR)', () => {
    const g = new Guest({ files: [input('f', '')] });
    expect(g.path('path_create_directory', 'a')).toBe(0);
    expect(g.path('path_create_directory', 'a')).toBe(E.EXIST);
    expect(g.path('path_create_directory', 'a/b/')).toBe(0);
    expect(g.path('path_create_directory', 'x/y')).toBe(E.NOENT);
    expect(g.path('path_create_directory', 'f/y')).toBe(E.NOTDIR);
    expect(g.path('path_remove_directory', 'a')).toBe(E.NOTEMPTY);
    expect(g.path('path_remove_directory', 'f')).toBe(E.NOTDIR);
    expect(g.path('path_remove_directory', 'a/b')).toBe(0);
    expect(g.path('path_remove_directory', 'a')).toBe(0);
    expect(g.path('path_remove_directory', 'a')).toBe(E.NOENT);
    expect(g.path('path_remove_directory', '.')).toBe(E.BUSY);
  });

  it('unlinks files (EISDIR for a directory); deleted files are not reported', () => {
    const g = new Guest({ files: [input('in', 'x')] });
    g.fd('gone', { oflags: O.CREAT });
    g.path('path_create_directory', 'd');
    expect(g.path('path_unlink_file', 'gone')).toBe(0);
    expect(g.path('path_unlink_file', 'gone')).toBe(E.NOENT);
    expect(g.path('path_unlink_file', 'd')).toBe(E.ISDIR);
    expect(g.path('path_unlink_file', 'in')).toBe(0);
    expect(g.open('in').errno).toBe(E.NOENT);
    expect(g.files()).toEqual([]);
  });

  it('renames files and directories; the moved files are reported at their new paths', () => {
    const g = new Guest({ files: [input('a', 'A'), input('b', 'B'), input('dir/x', 'X')] });
    const rename = (from: string, to: string) => g.call('path_rename', 3, ...g.put(from), 3, ...g.put(to));
    expect(rename('a', 'b')).toBe(0); // replaces b
    expect(g.open('a').errno).toBe(E.NOENT);
    expect(rename('dir', 'moved')).toBe(0);
    expect(g.path('path_create_directory', 'empty')).toBe(0);
    expect(rename('b', 'empty')).toBe(E.ISDIR);
    expect(rename('moved', 'moved/inside')).toBe(E.INVAL);
    expect(rename('missing', 'z')).toBe(E.NOENT);
    expect(rename('b', 'b')).toBe(0);
    expect(g.files()).toEqual([['/b', 'A'], ['/moved/x', 'X']]);
  });

  it('makes hard links that share contents', () => {
    const g = new Guest({ files: [input('a', 'shared')] });
    expect(g.call('path_link', 3, 0, ...g.put('a'), 3, ...g.put('b'))).toBe(0);
    expect(g.stat('a').nlink).toBe(2n);
    g.write(g.fd('b', { fdflags: APPEND }), '!');
    expect(g.read(g.fd('a'), 100).text).toBe('shared!');
    expect(g.call('path_link', 3, 0, ...g.put('.'), 3, ...g.put('c'))).toBe(E.PERM);
    expect(g.call('path_link', 3, 0, ...g.put('a'), 3, ...g.put('b'))).toBe(E.EXIST);
  });

  it('creates and reads symlinks, follows them only when asked', () => {
    const g = new Guest({ files: [input('d/target.txt', 'via link')] });
    expect(g.call('path_symlink', ...g.put('d/target.txt'), 3, ...g.put('ln'))).toBe(0);
    expect(g.readlink('ln')).toEqual({ errno: 0, target: 'd/target.txt' });
    expect(g.readlink('ln', 4).target).toBe('d/ta'); // truncated like readlink(2)
    expect(g.readlink('d/target.txt').errno).toBe(E.INVAL);
    expect(g.stat('ln')).toMatchObject({ filetype: FILETYPE.SYMLINK, size: 12n });
    expect(g.stat('ln', true)).toMatchObject({ filetype: FILETYPE.FILE, size: 8n });
    expect(g.read(g.fd('ln', { follow: true }), 100).text).toBe('via link');
    expect(g.open('ln').errno).toBe(E.LOOP);
    expect(g.call('path_symlink', ...g.put('x'), 3, ...g.put('ln'))).toBe(E.EXIST);
    // A relative link inside a directory resolves from that directory.
    g.call('path_symlink', ...g.put('target.txt'), 3, ...g.put('d/ln2'));
    expect(g.read(g.fd('d/ln2', { follow: true }), 100).text).toBe('via link');
    // A dangling link followed with creat creates its target.
    g.call('path_symlink', ...g.put('made.txt'), 3, ...g.put('dangling'));
    g.write(g.fd('dangling', { follow: true, oflags: O.CREAT }), 'made');
    expect(g.files()).toEqual([['/made.txt', 'made']]);
    g.call('path_symlink', ...g.put('loop2'), 3, ...g.put('loop1'));
    g.call('path_symlink', ...g.put('loop1'), 3, ...g.put('loop2'));
    expect(g.open('loop1', { follow: true }).errno).toBe(E.LOOP);
    expect(g.path('path_unlink_file', 'ln')).toBe(0);
    expect(g.stat('d/target.txt').errno).toBe(0);
  });

  it('never leaves the tree: "..", absolute paths and escaping symlinks are ENOTCAPABLE', () => {
    const g = new Guest({ files: [input('a/f', 'F'), input('top', 'T')] });
    expect(g.open('..').errno).toBe(E.NOTCAPABLE);
    expect(g.open('../etc/passwd').errno).toBe(E.NOTCAPABLE);
    expect(g.open('a/../../etc/passwd').errno).toBe(E.NOTCAPABLE);
    expect(g.open('/etc/passwd').errno).toBe(E.NOTCAPABLE);
    expect(g.stat('../..').errno).toBe(E.NOTCAPABLE);
    expect(g.read(g.fd('a/../top'), 10).text).toBe('T'); // ".." inside the tree is fine
    expect(g.call('path_symlink', ...g.put('/etc/passwd'), 3, ...g.put('abs'))).toBe(E.NOTCAPABLE);
    g.call('path_symlink', ...g.put('../../etc/passwd'), 3, ...g.put('a/esc'));
    expect(g.open('a/esc', { follow: true }).errno).toBe(E.NOTCAPABLE);
    // A directory fd is a capability too: it cannot reach above itself.
    const a = g.fd('a', { oflags: O.DIRECTORY });
    expect(g.open('../top', { dir: a }).errno).toBe(E.NOTCAPABLE);
    expect(g.read(g.fd('f', { dir: a }), 10).text).toBe('F');
    expect(g.open('f', { dir: g.fd('top') }).errno).toBe(E.NOTDIR);
  });

  it('limits names to 255 bytes, paths to 4096 and symlink chains to 40', () => {
    const g = new Guest();
    expect(g.open('n'.repeat(255), { oflags: O.CREAT }).errno).toBe(0);
    expect(g.open('n'.repeat(256), { oflags: O.CREAT }).errno).toBe(E.NAMETOOLONG);
    const deep = './'.repeat(2047) + 'ab';
    expect(deep).toHaveLength(4096);
    expect(g.open(deep, { oflags: O.CREAT }).errno).toBe(0);
    expect(g.open(deep + 'c', { oflags: O.CREAT }).errno).toBe(E.NAMETOOLONG);
    g.write(g.fd('end', { oflags: O.CREAT }), 'end of chain');
    g.call('path_symlink', ...g.put('end'), 3, ...g.put('l0'));
    for (let i = 1; i <= 40; i++) g.call('path_symlink', ...g.put(`l${i - 1}`), 3, ...g.put(`l${i}`));
    expect(g.read(g.fd('l39', { follow: true }), 100).text).toBe('end of chain'); // 40 links
    expect(g.open('l40', { follow: true }).errno).toBe(E.LOOP); // 41
  });

  it('accepts buffers that end exactly at the end of memory, EFAULT one byte further', () => {
    const g = new Guest();
    const end = g.u8.length;
    const fd = g.fd('f', { oflags: O.CREAT });
    const out = g.alloc(4);
    expect(g.call('fd_write', fd, g.iov([[end - 10, 10]]), 1, out)).toBe(0);
    expect(g.call('fd_write', fd, g.iov([[end - 10, 11]]), 1, out)).toBe(E.FAULT);
    expect(g.call('fd_write', fd, end - 8, 1, out)).toBe(0); // the iovec itself at the very end
    expect(g.call('fd_write', fd, end - 7, 1, out)).toBe(E.FAULT);
    expect(g.call('random_get', end - 16, 16)).toBe(0);
    expect(g.call('random_get', end - 16, 17)).toBe(E.FAULT);
  });

  it('answers EFAULT for a path outside memory and EILSEQ for invalid UTF-8', () => {
    const g = new Guest();
    expect(g.call('path_open', 3, 0, 200_000, 5, 0, RIGHTS_ALL, RIGHTS_ALL, 0, 16)).toBe(E.FAULT);
    expect(g.call('path_open', 3, 0, ...g.put(new Uint8Array([0xff, 0xfe])), 0, RIGHTS_ALL, RIGHTS_ALL, 0, 16)).toBe(E.ILSEQ);
    expect(g.call('path_open', 3, 0, ...g.put(''), 0, RIGHTS_ALL, RIGHTS_ALL, 0, 16)).toBe(E.NOENT);
  });

  it('sets times explicitly and to now; asking for both is EINVAL', () => {
    const epochMs = 1_600_000_000_000;
    const g = new Guest({ deterministic: { seed: 1, epochMs }, files: [input('f', '')] });
    expect(g.stat('f').mtim).toBe(BigInt(epochMs) * 1_000_000n);
    expect(g.call('path_filestat_set_times', 3, 0, ...g.put('f'), 111n, 222n, 1 | 4)).toBe(0);
    expect(g.stat('f')).toMatchObject({ atim: 111n, mtim: 222n });
    expect(g.call('fd_filestat_set_times', g.fd('f'), 0n, 333n, 4)).toBe(0);
    expect(g.stat('f').mtim).toBe(333n);
    expect(g.call('fd_filestat_set_times', 4, 0n, 0n, 4 | 8)).toBe(E.INVAL);
    expect(g.call('path_filestat_set_times', 3, 0, ...g.put('nope'), 0n, 0n, 2)).toBe(E.NOENT);
  });
});

describe('wasi calls: filesystem limits', () => {
  it('lets files grow by exactly maxFsBytes beyond the inputs, then ENOSPC', () => {
    const g = new Guest({ maxFsBytes: 10, files: [input('in', 'x'.repeat(100))] });
    const fd = g.fd('new', { oflags: O.CREAT });
    expect(g.write(fd, '0123456789').errno).toBe(0);
    expect(g.write(fd, 'z').errno).toBe(E.NOSPC);
    expect(g.call('fd_filestat_set_size', fd, 11n)).toBe(E.NOSPC);
    const inFd = g.fd('in');
    expect(g.call('fd_filestat_set_size', inFd, 1n << 40n)).toBe(E.NOSPC);
    // Deleting gives the space back, but only once no descriptor holds the file open.
    expect(g.path('path_unlink_file', 'in')).toBe(0);
    expect(g.write(fd, 'z').errno).toBe(E.NOSPC);
    expect(g.call('fd_close', inFd)).toBe(0);
    expect(g.write(fd, 'z'.repeat(100)).errno).toBe(0);
    expect(g.write(fd, 'z').errno).toBe(E.NOSPC);
  });

  it('keeps billing a file that is unlinked while open', () => {
    const g = new Guest({ maxFsBytes: 100 });
    const fd = g.fd('tmp', { oflags: O.CREAT });
    expect(g.path('path_unlink_file', 'tmp')).toBe(0);
    expect(g.write(fd, 'x'.repeat(100)).errno).toBe(0);
    expect(g.write(fd, 'x').errno).toBe(E.NOSPC);
    expect(g.read(fd, 1, 99n).text).toBe('x'); // still readable through the descriptor
    expect(g.call('fd_close', fd)).toBe(0);
    expect(g.write(g.fd('next', { oflags: O.CREAT }), 'y'.repeat(100)).errno).toBe(0);
  });

  it('refuses to create entries in a removed directory', () => {
    const g = new Guest();
    g.path('path_create_directory', 'd');
    const d = g.fd('d', { oflags: O.DIRECTORY });
    expect(g.path('path_remove_directory', 'd')).toBe(0);
    expect(g.open('f', { dir: d, oflags: O.CREAT }).errno).toBe(E.NOENT);
    expect(g.readdir(d, 200).entries.map((e) => e.name)).toEqual(['.', '..']);
  });

  it('caps the number of inodes', () => {
    const g = new Guest({ maxInodes: 3 });
    expect(g.path('path_create_directory', 'a')).toBe(0);
    expect(g.path('path_create_directory', 'b')).toBe(0);
    expect(g.open('c', { oflags: O.CREAT }).errno).toBe(0);
    expect(g.open('d', { oflags: O.CREAT }).errno).toBe(E.NOSPC);
    expect(g.path('path_remove_directory', 'a')).toBe(0);
    expect(g.open('d', { oflags: O.CREAT }).errno).toBe(0);
  });

  it('gives the same files and timestamps for the same deterministic request', () => {
    const once = () => {
      const g = new Guest({ deterministic: { seed: 9, epochMs: 5 }, files: [input('in', 'abc')] });
      const p = g.alloc(8);
      g.call('clock_time_get', 1, 0n, p);
      g.write(g.fd('out', { oflags: O.CREAT }), 'x');
      return [g.files(), g.stat('out'), g.stat('in')];
    };
    expect(once()).toEqual(once());
  });
});
