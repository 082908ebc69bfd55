/** The submit's checks of a task's WASI options: mounts, argv0 and input directories/symlinks. */
import { describe, expect, it } from 'vitest';
import { SpindleError } from '../../src/domain/index.js';
import { checkArgsEnvSize, checkArgv0, checkFiles, checkMounts, MAX_ARGS_ENV_BYTES, MAX_ARGV0, MAX_MOUNT_PATH, MAX_MOUNTS } from '../../src/services/task.check.js';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SpindleError);
    expect((err as SpindleError).code).toBe('BAD_USER_INPUT');
    return (err as Error).message;
  }
  throw new Error('expected a BAD_USER_INPUT');
}

const IN_OUT = [{ path: '/in', readOnly: true }, { path: '/out', readOnly: false }];

describe('mounts', () => {
  it('defaults to null ("/" alone); [] is no mount at all; readOnly defaults to false', () => {
    expect(checkMounts('m', null)).toBeNull();
    expect(checkMounts('m', [])).toEqual([]);
    expect(checkMounts('m', [{ path: '/' }])).toEqual([{ path: '/', readOnly: false }]);
    expect(checkMounts('m', IN_OUT)).toEqual(IN_OUT);
  });

  it(`takes at most ${MAX_MOUNTS} mounts`, () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ path: `/m${i}` }));
    expect(checkMounts('input.mounts', many(MAX_MOUNTS))).toHaveLength(MAX_MOUNTS);
    expect(refusal(() => checkMounts('input.mounts', many(MAX_MOUNTS + 1)))).toBe(`input.mounts: must have at most ${MAX_MOUNTS} mounts (got ${MAX_MOUNTS + 1})`);
  });

  it(`takes paths of at most ${MAX_MOUNT_PATH} characters`, () => {
    const at = '/' + 'a'.repeat(MAX_MOUNT_PATH - 1);
    expect(checkMounts('m', [{ path: at }])![0]!.path).toBe(at);
    expect(refusal(() => checkMounts('input.mounts', [{ path: at + 'a' }]))).toBe(`input.mounts[0].path: must be 1-${MAX_MOUNT_PATH} characters (got ${MAX_MOUNT_PATH + 1})`);
  });

  it('refuses relative, malformed and nesting mounts, naming the field', () => {
    expect(refusal(() => checkMounts('input.mounts', [{ path: 'in' }]))).toMatch(/^input.mounts\[0\].path: "in" must be absolute/);
    expect(refusal(() => checkMounts('input.mounts', [{ path: '/in/' }]))).toMatch(/^input.mounts\[0\].path: .*not a valid path/);
    expect(refusal(() => checkMounts('input.mounts', [{ path: '/a/../b' }]))).toMatch(/^input.mounts\[0\].path: .*not a valid path/);
    expect(refusal(() => checkMounts('input.mounts', [{ path: '/in' }, { path: '/in' }]))).toMatch(/^input.mounts\[1\].path: "\/in" overlaps input.mounts\[0\].path/);
    expect(refusal(() => checkMounts('input.mounts', [{ path: '/' }, { path: '/in' }]))).toMatch(/^input.mounts\[1\].path: .*may not nest/);
    expect(refusal(() => checkMounts('input.mounts', [{ path: '/a/b' }, { path: '/a' }]))).toMatch(/^input.mounts\[1\].path: .*may not nest/);
    expect(checkMounts('m', [{ path: '/a' }, { path: '/ab' }])).toHaveLength(2); // a prefix is not a parent
  });
});

describe('input files inside mounts', () => {
  const text = (path: string) => ({ path, text: 'x' });

  it('stores every path absolute, relative ones taken from "/"', () => {
    expect(checkFiles('f', [text('a/b'), text('/c')], 100)!.map((f) => f.path)).toEqual(['/a/b', '/c']);
  });

  it('must lie strictly inside a declared mount', () => {
    const mounts = checkMounts('m', IN_OUT);
    expect(checkFiles('f', [text('/in/a'), text('/out/sub/b')], 100, mounts)!.map((f) => f.path)).toEqual(['/in/a', '/out/sub/b']);
    expect(refusal(() => checkFiles('input.files', [text('/other/a')], 100, mounts))).toBe('input.files[0].path: "/other/a" is not inside a mount (/in, /out)');
    expect(refusal(() => checkFiles('input.files', [text('/in')], 100, mounts))).toMatch(/^input.files\[0\].path: "\/in" is not inside a mount/);
    expect(refusal(() => checkFiles('input.files', [text('/input/a')], 100, mounts))).toMatch(/not inside a mount/);
    expect(refusal(() => checkFiles('input.files', [text('a')], 100, []))).toBe('input.files[0].path: "/a" is not inside a mount (the task has none)');
  });

  it('takes empty directories (trailing "/") and symlinks', () => {
    const files = checkFiles('f', [{ path: '/in/empty/' }, { path: '/in/l', symlinkTarget: 'empty' }], 100, checkMounts('m', IN_OUT));
    expect(files!.map((f) => [f.path, f.kind, new TextDecoder().decode(f.bytes)])).toEqual([['/in/empty', 'dir', ''], ['/in/l', 'symlink', 'empty']]);
    expect(refusal(() => checkFiles('input.files', [{ path: '/d/', text: 'x' }], 100))).toMatch(/^input.files\[0\]: a directory .* has no base64 or text/);
    expect(refusal(() => checkFiles('input.files', [{ path: '/l', symlinkTarget: 'x', text: 'x' }], 100))).toMatch(/^input.files\[0\]: a symlink has no base64 or text/);
    expect(refusal(() => checkFiles('input.files', [{ path: '/d/', symlinkTarget: 'x' }], 100))).toMatch(/cannot have a symlinkTarget/);
    expect(refusal(() => checkFiles('input.files', [{ path: '/l', symlinkTarget: '/etc/passwd' }], 100))).toMatch(/^input.files\[0\].symlinkTarget: must be relative/);
    expect(refusal(() => checkFiles('input.files', [{ path: '/l', symlinkTarget: '' }], 100))).toMatch(/^input.files\[0\].symlinkTarget: must be 1-1024 characters/);
    expect(checkFiles('f', [{ path: '/l', symlinkTarget: 'a'.repeat(1024) }], 100)).toHaveLength(1);
    expect(refusal(() => checkFiles('input.files', [{ path: '/l', symlinkTarget: 'a'.repeat(1025) }], 100))).toMatch(/got 1025/);
    expect(refusal(() => checkFiles('input.files', [{ path: '/a', text: '' }, { path: '/a/' }], 100))).toMatch(/^input.files\[1\].path: duplicates/);
  });
});

describe('argv0', () => {
  it(`is 1-${MAX_ARGV0} bytes of UTF-8, null for the agent's name`, () => {
    expect(checkArgv0('input.argv0', null)).toBeNull();
    expect(checkArgv0('input.argv0', 'é'.repeat(MAX_ARGV0 / 2))).toHaveLength(MAX_ARGV0 / 2);
    expect(refusal(() => checkArgv0('input.argv0', 'é'.repeat(MAX_ARGV0 / 2) + 'a'))).toBe(`input.argv0: must be 1-${MAX_ARGV0} bytes of UTF-8 (got ${MAX_ARGV0 + 1})`);
    expect(refusal(() => checkArgv0('input.argv0', ''))).toMatch(/got 0/);
  });

  it('counts towards the args and env size', () => {
    const arg = 'a'.repeat(MAX_ARGS_ENV_BYTES - 3); // + NUL, + "x" and its NUL = the maximum
    checkArgsEnvSize('input', [arg], {}, 'x');
    expect(refusal(() => checkArgsEnvSize('input', [arg], {}, 'xy'))).toMatch(/^input.args: args and env together must be at most/);
  });
});
