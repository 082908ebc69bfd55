import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { SpindleError } from '../../src/domain/index.js';
import { base64Size, decodeBase64 } from '../../src/services/codec.js';
import { checkLimits, resolveLimits, resolveRetryPolicy } from '../../src/services/limits.js';
import { normalizePath } from '../../src/services/task.check.js';
import { compileWat } from '../../src/services/module.service.js';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';

const config = loadConfig({});

/** Runs fn, expecting a SpindleError; returns it. */
function caught(fn: () => unknown): SpindleError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SpindleError);
    return err as SpindleError;
  }
  throw new Error('expected a SpindleError');
}

describe('limits', () => {
  it('accepts limits within the maxima', () => {
    expect(checkLimits('input.limits', { timeoutMs: 1, memoryBytes: 65536, maxOutputBytes: 10, fuel: 5n }, config)).toEqual({
      timeoutMs: 1,
      memoryBytes: 65536,
      maxOutputBytes: 10,
      fuel: 5n,
    });
  });

  it('names the field and the range when a limit is out of range', () => {
    const e = caught(() => checkLimits('input.limits', { timeoutMs: 300_001 }, config));
    expect(e.code).toBe('BAD_USER_INPUT');
    expect(e.message).toBe('input.limits.timeoutMs: must be between 1 and 300000');
    expect(e.details).toMatchObject({ field: 'input.limits.timeoutMs', max: 300000 });
    expect(caught(() => checkLimits('l', { timeoutMs: -1 }, config)).message).toMatch(/^l.timeoutMs: must be between 1/);
    expect(caught(() => checkLimits('l', { memoryBytes: 2 ** 31 }, config)).message).toBe(`l.memoryBytes: must be between 65536 and ${2 ** 30}`);
    expect(caught(() => checkLimits('l', { memoryBytes: 1.5 }, config)).message).toMatch(/l.memoryBytes/);
    expect(caught(() => checkLimits('l', { maxOutputBytes: 0 }, config)).message).toMatch(/l.maxOutputBytes: must be between 1 and/);
    expect(caught(() => checkLimits('l', { fuel: 0n }, config)).message).toBe('l.fuel: must be between 1 and 9223372036854775807');
    const capped = loadConfig({ MAX_FUEL: '100' });
    expect(caught(() => checkLimits('l', { fuel: 101n }, capped)).message).toBe('l.fuel: must be between 1 and 100');
  });

  it('resolves task limits over agent defaults over server defaults', () => {
    expect(resolveLimits({ timeoutMs: 5 }, { timeoutMs: 7, memoryBytes: 131072 }, config)).toEqual({
      timeoutMs: 5,
      memoryBytes: 131072,
      maxOutputBytes: config.limits.defaults.maxOutputBytes,
    });
    expect(resolveLimits({}, {}, loadConfig({ DEFAULT_FUEL: '9' })).fuel).toBe(9n);
  });
});

describe('retry policy', () => {
  it('defaults from the config', () => {
    expect(resolveRetryPolicy('p', null, config)).toEqual({ maxAttempts: 3, initialBackoffMs: 1000, maxBackoffMs: 60000, retryOn: ['timeout', 'host_error'] });
  });

  it('checks maxAttempts against MAX_ATTEMPTS_LIMIT and the backoff order', () => {
    expect(caught(() => resolveRetryPolicy('input.retryPolicy', { maxAttempts: 11 }, config)).message).toBe('input.retryPolicy.maxAttempts: must be between 1 and 10');
    expect(caught(() => resolveRetryPolicy('p', { maxAttempts: 0 }, config)).message).toMatch(/p.maxAttempts/);
    expect(caught(() => resolveRetryPolicy('p', { initialBackoffMs: -1 }, config)).message).toMatch(/p.initialBackoffMs: must be between 0/);
    expect(caught(() => resolveRetryPolicy('p', { initialBackoffMs: 100, maxBackoffMs: 10 }, config)).message).toMatch(/p.maxBackoffMs: maxBackoffMs \(10\) must be at least initialBackoffMs \(100\)/);
    expect(resolveRetryPolicy('p', { maxAttempts: 5, retryOn: ['trap', 'trap', 'nonzero_exit'] }, config)).toMatchObject({ maxAttempts: 5, retryOn: ['trap', 'nonzero_exit'] });
  });

  it('checks both backoffs against BACKOFF_MAX_MS_LIMIT: at it accepted, above it refused', () => {
    expect(resolveRetryPolicy('p', { initialBackoffMs: 3_600_000, maxBackoffMs: 3_600_000 }, config)).toMatchObject({ initialBackoffMs: 3_600_000, maxBackoffMs: 3_600_000 });
    const e = caught(() => resolveRetryPolicy('input.retryPolicy', { maxBackoffMs: 3_600_001 }, config));
    expect(e.message).toBe('input.retryPolicy.maxBackoffMs: must be between 0 and 3600000');
    expect(e.details).toMatchObject({ field: 'input.retryPolicy.maxBackoffMs', max: 3_600_000 });
    const lowered = loadConfig({ BACKOFF_MAX_MS_LIMIT: '60000' });
    expect(resolveRetryPolicy('p', { maxBackoffMs: 60_000 }, lowered).maxBackoffMs).toBe(60_000);
    expect(caught(() => resolveRetryPolicy('p', { maxBackoffMs: 60_001 }, lowered)).message).toBe('p.maxBackoffMs: must be between 0 and 60000');
    expect(caught(() => resolveRetryPolicy('p', { initialBackoffMs: 60_001 }, lowered)).message).toBe('p.initialBackoffMs: must be between 0 and 60000');
  });

  it('takes the default retryOn from DEFAULT_RETRY_ON, and a copy the task may own', () => {
    const policy = resolveRetryPolicy('p', {}, loadConfig({ DEFAULT_RETRY_ON: 'trap' }));
    expect(policy.retryOn).toEqual(['trap']);
    expect(Object.isFrozen(policy.retryOn)).toBe(false);
  });
});

describe('paths', () => {
  it('normalises absolute and relative paths', () => {
    expect(normalizePath('f', '/a/b.txt')).toBe('/a/b.txt');
    expect(normalizePath('f', 'a/b.txt')).toBe('/a/b.txt');
  });

  // NUL is refused before (args.guard.ts): test/integration/api-input.test.ts.
  it.each(['', '../etc/passwd', 'a/../b', 'a//b', 'a/', './a', '/'])('rejects %j', (p) => {
    expect(caught(() => normalizePath('input.files[0].path', p)).message).toMatch(/^input.files\[0\].path: /);
  });
});

describe('base64', () => {
  it('decodes standard base64 strictly', () => {
    expect(Buffer.from(decodeBase64('f', 'aGVsbG8=')).toString()).toBe('hello');
    expect(Buffer.from(decodeBase64('f', 'aGVs\nbG8=')).toString()).toBe('hello');
    expect(base64Size('aGVsbG8=')).toBe(5);
    expect(caught(() => decodeBase64('input.wasmBase64', 'not base64!')).message).toBe('input.wasmBase64: is not valid base64');
    expect(caught(() => decodeBase64('f', 'aGVsbG8')).code).toBe('BAD_USER_INPUT');
  });
});

describe('WAT', () => {
  it('compiles the demo agent', async () => {
    const bytes = await compileWat('input.wat', DEMO_AGENT_WAT);
    expect(WebAssembly.validate(bytes)).toBe(true);
  });

  it('names the field and the problem for broken text', async () => {
    await expect(compileWat('input.wat', '(module (func $f (i32.add)))')).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/^input.wat: does not compile/) });
  });
});
