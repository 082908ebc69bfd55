// The WASI 0.2 host's filesystem (src/runtime/component/host.ts) called as jco's glue calls it.
import { describe, expect, it } from 'vitest';
import { makeP2Host } from '../../src/runtime/component/host.js';
import { Clock } from '../../src/runtime/wasi/clock.js';
import { cryptoRandom } from '../../src/runtime/wasi/random.js';

const enc = (s: string) => new TextEncoder().encode(s);

function host() {
  return makeP2Host({
    args: ['t'], env: {}, stdin: new Uint8Array(0),
    files: [{ path: '/in/a.txt', bytes: enc('A') }],
    maxOutputBytes: 1024, hardOutputBytes: 1 << 20,
    clock: new Clock(true, 0), random: cryptoRandom, fsLimits: { maxBytes: 1 << 20, maxInodes: 100 },
    mounts: [{ path: '/in', readOnly: true }, { path: '/out', readOnly: false }],
  });
}

/** The error-code a call answered with (jco's glue reads it from `payload`). */
function errorCode(call: () => unknown): unknown {
  try {
    call();
  } catch (e) {
    return (e as { payload?: unknown }).payload;
  }
  return 'no error';
}

describe('WASI 0.2 host: mounts', () => {
  it('preopens each mount at its path, and a read-only one refuses every change', () => {
    const h = host();
    const preopens = (h.imports['wasi:filesystem/preopens'] as { getDirectories(): [any, string][] }).getDirectories();
    expect(preopens.map(([, path]) => path)).toEqual(['/in', '/out']);
    const [[ro], [rw]] = preopens;
    const none = {};
    expect(errorCode(() => ro.openAt(none, 'a.txt', {}, { write: true }))).toBe('read-only');
    expect(errorCode(() => ro.openAt(none, 'a.txt', { truncate: true }, {}))).toBe('read-only');
    expect(errorCode(() => ro.openAt(none, 'new.txt', { create: true }, {}))).toBe('read-only');
    expect(errorCode(() => ro.createDirectoryAt('d'))).toBe('read-only');
    expect(errorCode(() => ro.unlinkFileAt('a.txt'))).toBe('read-only');
    expect(errorCode(() => ro.symlinkAt('a.txt', 'l'))).toBe('read-only');
    expect(errorCode(() => ro.renameAt('a.txt', rw, 'a.txt'))).toBe('read-only');
    expect(errorCode(() => rw.renameAt('x', ro, 'x'))).toBe('read-only');
    // Opened for reading only, a file cannot be written either.
    const file = ro.openAt(none, 'a.txt', {}, {});
    expect(errorCode(() => file.write(enc('B'), 0n))).toBe('bad-descriptor');
    expect(file.read(10n, 0n)).toEqual([enc('A'), true]);
    // The writable mount takes changes, and only its files come back.
    const out = rw.openAt(none, 'b.txt', { create: true }, { write: true });
    out.write(enc('B'), 0n);
    rw.createDirectoryAt('d');
    expect(h.result().files.map((f) => [f.path, new TextDecoder().decode(f.bytes)])).toEqual([['/out/b.txt', 'B']]);
  });
});

describe('WASI 0.2 host: what preview 1 refuses, it refuses', () => {
  it('refuses "." and a directory moved below itself; lists a directory as a stream', () => {
    const h = host();
    const [, [rw]] = (h.imports['wasi:filesystem/preopens'] as { getDirectories(): [any, string][] }).getDirectories();
    rw.createDirectoryAt('a');
    rw.createDirectoryAt('a/b');
    expect(errorCode(() => rw.renameAt('a', rw, 'a/b/c'))).toBe('invalid');
    expect(errorCode(() => rw.removeDirectoryAt('.'))).toBe('busy');
    expect(errorCode(() => rw.removeDirectoryAt('a'))).toBe('not-empty');
    const types = h.imports['wasi:filesystem/types'] as { DirectoryEntryStream: new (...a: never[]) => unknown };
    const stream = rw.readDirectory();
    expect(stream).toBeInstanceOf(types.DirectoryEntryStream);
    expect(stream.readDirectoryEntry()).toEqual({ type: 'directory', name: 'a' });
    expect(stream.readDirectoryEntry()).toBeUndefined();
  });

  it('answers the ready pollables, waiting only for the earliest', () => {
    const h = host(); // deterministic clock: waits are virtual
    const mono = h.imports['wasi:clocks/monotonic-clock'] as { subscribeDuration(ns: bigint): any; now(): bigint };
    const { poll } = h.imports['wasi:io/poll'] as { poll(list: unknown[]): Uint32Array };
    const stdin = (h.imports['wasi:cli/stdin'] as { getStdin(): { subscribe(): unknown } }).getStdin();
    expect([...poll([mono.subscribeDuration(5_000_000_000n), stdin.subscribe()])]).toEqual([1]);
    const before = mono.now();
    expect([...poll([mono.subscribeDuration(9_000_000_000n), mono.subscribeDuration(1_000_000_000n)])]).toEqual([1]);
    const waited = mono.now() - before;
    expect(waited >= 1_000_000_000n && waited < 9_000_000_000n).toBe(true);
  });

  it('hands at most 1 MiB per call, whatever length the guest asks', () => {
    const h = host();
    const random = h.imports['wasi:random/random'] as { getRandomBytes(n: bigint): Uint8Array };
    expect(random.getRandomBytes(1_048_576n)).toHaveLength(1_048_576);
    expect(random.getRandomBytes(0xffff_ffffn)).toHaveLength(1_048_576);
    const stdout = (h.imports['wasi:cli/stdout'] as { getStdout(): { writeZeroes(n: bigint): void; checkWrite(): bigint } }).getStdout();
    expect(stdout.checkWrite()).toBe(1_048_576n);
    expect(errorCode(() => stdout.writeZeroes(1_048_577n))).toMatchObject({ tag: 'last-operation-failed' });
  });
});

