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
