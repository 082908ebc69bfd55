import { describe, expect, it } from 'vitest';
import { decodeFiles, encodeFiles } from '../../src/store/files.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('files bundle', () => {
  it('round-trips paths (unicode included), contents and order', () => {
    const files = [
      { path: 'b.txt', bytes: bytes('second') },
      { path: 'dir/ünï/a.bin', bytes: new Uint8Array([0, 255, 1, 254]) },
      { path: 'empty', bytes: new Uint8Array() },
    ];
    const decoded = decodeFiles(encodeFiles(files));
    expect(decoded.map((f) => f.path)).toEqual(['b.txt', 'dir/ünï/a.bin', 'empty']);
    expect(decoded.map((f) => Array.from(f.bytes))).toEqual(files.map((f) => Array.from(f.bytes)));
  });

  it('encodes no files as an 8-byte header', () => {
    const b = encodeFiles([]);
    expect(b.length).toBe(8);
    expect(decodeFiles(b)).toEqual([]);
  });

  it('decodes from a view at an offset (bytes from a larger buffer)', () => {
    const inner = encodeFiles([{ path: 'x', bytes: bytes('hi') }]);
    const outer = new Uint8Array(inner.length + 10);
    outer.set(inner, 5);
    const [f] = decodeFiles(outer.subarray(5, 5 + inner.length));
    expect(f!.path).toBe('x');
    expect(new TextDecoder().decode(f!.bytes)).toBe('hi');
  });

  it('rejects corrupt bundles with a clear error', () => {
    expect(() => decodeFiles(bytes('nope'))).toThrow(/corrupt files bundle: bad header/);
    const good = encodeFiles([{ path: 'a', bytes: bytes('abc') }]);
    expect(() => decodeFiles(good.subarray(0, good.length - 1))).toThrow(/truncated/);
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    expect(() => decodeFiles(longer)).toThrow(/trailing bytes/);
  });

  it('keeps directories and symlinks (SPF2); plain files stay SPF1', () => {
    const files = [
      { path: '/in/a', bytes: bytes('a') },
      { path: '/in/empty', bytes: new Uint8Array(), kind: 'dir' as const },
      { path: '/in/l', bytes: bytes('a'), kind: 'symlink' as const },
    ];
    const b = encodeFiles(files);
    expect(new TextDecoder().decode(b.subarray(0, 4))).toBe('SPF2');
    expect(decodeFiles(b).map((f) => [f.path, f.kind, Array.from(f.bytes)])).toEqual([['/in/a', undefined, [97]], ['/in/empty', 'dir', []], ['/in/l', 'symlink', [97]]]);
    expect(new TextDecoder().decode(encodeFiles(files.slice(0, 1)).subarray(0, 4))).toBe('SPF1');
    const bad = encodeFiles(files.slice(1, 2));
    bad[8] = 7;
    expect(() => decodeFiles(bad)).toThrow(/unknown entry kind/);
  });
});
