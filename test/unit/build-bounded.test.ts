// What a build keeps of the compiler's words (src/runtime/build/builder.ts): bounded, at and beyond each limit.
import { describe, expect, it } from 'vitest';
import { bounded, MAX_DIAGNOSTICS, MAX_LOG_CHARS } from '../../src/runtime/build/builder.js';
import type { BuildResult, Diagnostic } from '../../src/runtime/build/types.js';

const diag = (i: number): Diagnostic => ({ severity: 'error', code: 'TS1', message: `m${i}`, file: 'a.ts', line: i, column: 1 });
const result = (log: string, n: number): BuildResult => ({ ok: false, log, diagnostics: Array.from({ length: n }, (_, i) => diag(i)), buildMs: 1 });

describe('bounded build results', () => {
  it('keeps MAX_DIAGNOSTICS diagnostics and MAX_LOG_CHARS characters of log as they are', () => {
    const r = result('x'.repeat(MAX_LOG_CHARS), MAX_DIAGNOSTICS);
    expect(bounded(r)).toBe(r);
  });
  it('cuts one more of each, saying how much of the log was left out', () => {
    const r = bounded(result('x'.repeat(MAX_LOG_CHARS + 1), MAX_DIAGNOSTICS + 1));
    expect(r.diagnostics).toHaveLength(MAX_DIAGNOSTICS);
    expect(r.log).toBe(`${'x'.repeat(MAX_LOG_CHARS)}\n… (1 more characters)`);
  });
});
