// What task search stores and how it matches: the capped text of store/search-text.ts, the id
// prefix range, the ILIKE escaping, and the previews of input files (graphql/codec.ts).
import { describe, expect, it } from 'vitest';
import { textPreview } from '../../src/graphql/codec.js';
import {
  containsPattern, idPrefixRange, inputSearchText, outputSearchText, SEARCH_ERROR_BYTES, SEARCH_INPUT_BYTES, SEARCH_SEPARATOR, SEARCH_STREAM_BYTES,
} from '../../src/store/search-text.js';
import type { NewTask } from '../../src/store/types.js';

const enc = new TextEncoder();
const task = (over: Partial<NewTask>) => ({ agentName: 'hello', args: [], stdin: new Uint8Array(), ...over }) as NewTask;
const bytes = (s: string) => Buffer.byteLength(s);

describe('inputSearchText', () => {
  it('is the agent name, the args and stdin, then the separator', () => {
    expect(inputSearchText(task({ args: ['a b', 'c'], stdin: enc.encode('in put') }))).toBe(`hello a b c in put${SEARCH_SEPARATOR}`);
    // With its id: the last group first, what the dashboard shows of an id.
    expect(inputSearchText(task({ args: ['x'] }), '01A24A8C-BCCE-7000-B3E8-461281FE9EA2')).toBe(`461281fe9ea2 hello x${SEARCH_SEPARATOR}`);
  });

  it('caps at SEARCH_INPUT_BYTES, never cutting a character in two', () => {
    const text = inputSearchText(task({ args: ['é'.repeat(5000)], stdin: enc.encode('never reached') }));
    expect(bytes(text) - 1).toBeLessThanOrEqual(SEARCH_INPUT_BYTES);
    expect(bytes(text) - 1).toBeGreaterThan(SEARCH_INPUT_BYTES - 3);
    expect(text).not.toContain('\ufffd');
    expect(text).not.toContain('never');
  });

  it('drops NUL, control characters and bytes that are not UTF-8 (text cannot hold NUL; the separator stays unique)', () => {
    const text = inputSearchText(task({ stdin: new Uint8Array([0x41, 0, 0xff, 0x1e, 0x42, 0x0a, 0x43]) }));
    expect(text).toBe(`hello A B\nC${SEARCH_SEPARATOR}`);
    expect(text.indexOf(SEARCH_SEPARATOR)).toBe(text.length - 1);
  });
});

describe('outputSearchText', () => {
  it('is stdout, the trap message and error, then stderr, each capped', () => {
    const r = { stdout: enc.encode('o'.repeat(5000)), stderr: enc.encode('e'.repeat(5000)), trapMessage: 'unreachable', error: 'x'.repeat(5000) };
    const text = outputSearchText(r);
    const [out, trap, err, stderr] = text.split(' ');
    expect(out).toBe('o'.repeat(SEARCH_STREAM_BYTES));
    expect(trap).toBe('unreachable');
    expect(bytes(`${trap} ${err}`)).toBe(SEARCH_ERROR_BYTES);
    expect(stderr).toBe('e'.repeat(SEARCH_STREAM_BYTES));
  });

  it('leaves out what is empty', () => {
    expect(outputSearchText({ stdout: enc.encode('ok\n'), stderr: new Uint8Array(), trapMessage: null, error: null })).toBe('ok');
  });
});

describe('idPrefixRange', () => {
  it('spans the ids that start with the prefix', () => {
    expect(idPrefixRange('01A2')).toEqual(['01a20000-0000-0000-0000-000000000000', '01a2ffff-ffff-ffff-ffff-ffffffffffff']);
    expect(idPrefixRange('01a2430b-9c')).toEqual(['01a2430b-9c00-0000-0000-000000000000', '01a2430b-9cff-ffff-ffff-ffffffffffff']);
    const id = '01a2430b-9c18-7000-a84a-3b9ebbbd5820';
    expect(idPrefixRange(id)).toEqual([id, id]);
  });

  it('is null for what cannot start an id', () => {
    for (const s of ['xyz', '01a2430b9c', '01a2430b--', '01a2430b-9c18-7000-a84a-3b9ebbbd58201', 'dead beef']) expect(idPrefixRange(s)).toBeNull();
  });
});

describe('containsPattern', () => {
  it('matches anywhere, with %, _ and \\ taken literally', () => {
    expect(containsPattern('abc')).toBe('%abc%');
    expect(containsPattern('5%_a\\b')).toBe('%5\\%\\_a\\\\b%');
  });
});

describe('textPreview', () => {
  it('whole text, or its start cut before a split character, or null for binary', () => {
    expect(textPreview(enc.encode('hello'), 10)).toEqual({ text: 'hello', truncated: false });
    expect(textPreview(enc.encode('héllo'), 2)).toEqual({ text: 'h', truncated: true });
    expect(textPreview(enc.encode('héllo'), 3)).toEqual({ text: 'hé', truncated: true });
    expect(textPreview(new Uint8Array([0x41, 0xff, 0x42]), 10)).toEqual({ text: null, truncated: false });
    expect(textPreview(new Uint8Array([0x41, 0, 0x42]), 10)).toEqual({ text: null, truncated: false });
    // A split character at the very end of a whole file is invalid UTF-8, not a cut.
    expect(textPreview(new Uint8Array([0x41, 0xc3]), 10)).toEqual({ text: null, truncated: false });
  });
});
