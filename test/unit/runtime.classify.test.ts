import { describe, expect, it } from 'vitest';
import { classifyEnd, trapCodeOf, type EndFacts } from '../../src/runtime/classify.js';
import { OutputLimitExceeded } from '../../src/runtime/wasi/index.js';

const facts = (over: Partial<EndFacts> = {}): EndFacts => ({ growFailed: false, fuelExhausted: false, memoryCapBytes: 1 << 24, ...over });
const trap = (message: string) => new WebAssembly.RuntimeError(message);

describe('trapCodeOf', () => {
  it.each([
    ['unreachable', 'unreachable'],
    ['memory access out of bounds', 'memory_out_of_bounds'],
    ['divide by zero', 'divide_by_zero'],
    ['remainder by zero', 'divide_by_zero'],
    ['divide result unrepresentable', 'integer_overflow'],
    ['float unrepresentable in integer range', 'invalid_conversion'],
    ['null function or function signature mismatch', 'indirect_call_mismatch'],
    ['function signature mismatch', 'indirect_call_mismatch'],
    ['table index is out of bounds', 'table_out_of_bounds'],
    ['WebAssembly.Instance(): data segment is out of bounds', 'data_segment_out_of_bounds'],
    ['element segment out of bounds', 'element_segment_out_of_bounds'],
    ['dereferencing a null pointer', 'null_reference'],
    ['something V8 adds next year', 'unknown'],
  ])('maps RuntimeError "%s" to %s', (message, code) => {
    expect(trapCodeOf(trap(message))).toBe(code);
  });

  it('maps a call stack overflow to stack_overflow', () => {
    expect(trapCodeOf(new RangeError('Maximum call stack size exceeded'))).toBe('stack_overflow');
  });

  it('does not blame the guest for host errors', () => {
    expect(trapCodeOf(new TypeError('x is not a function'))).toBeNull();
    expect(trapCodeOf(new RangeError('Invalid typed array length: -1'))).toBeNull();
    expect(trapCodeOf('a string')).toBeNull();
  });
});

describe('classifyEnd', () => {
  it('treats a return from _start as exit 0', () => {
    expect(classifyEnd({ how: 'returned' }, facts())).toEqual({ kind: 'exited', exitCode: 0 });
  });

  it('reports proc_exit codes', () => {
    expect(classifyEnd({ how: 'exit', code: 0 }, facts())).toEqual({ kind: 'exited', exitCode: 0 });
    expect(classifyEnd({ how: 'exit', code: 42 }, facts())).toEqual({ kind: 'exited', exitCode: 42 });
  });

  it('classifies traps with their code and message', () => {
    expect(classifyEnd({ how: 'threw', error: trap('divide by zero') }, facts())).toEqual({
      kind: 'trap',
      exitCode: null,
      trap: { code: 'divide_by_zero', message: 'divide by zero' },
    });
  });

  it('calls a failure after a failed memory.grow memory_limit, keeping exit code or trap', () => {
    const exit = classifyEnd({ how: 'exit', code: 3 }, facts({ growFailed: true }));
    expect(exit).toMatchObject({ kind: 'memory_limit', exitCode: 3 });
    expect(exit.error).toContain('16777216');
    const trapped = classifyEnd({ how: 'threw', error: trap('unreachable') }, facts({ growFailed: true }));
    expect(trapped).toMatchObject({ kind: 'memory_limit', exitCode: null, trap: { code: 'unreachable' } });
  });

  it('lets a guest that copes with a failed grow succeed', () => {
    expect(classifyEnd({ how: 'exit', code: 0 }, facts({ growFailed: true }))).toEqual({ kind: 'exited', exitCode: 0 });
    expect(classifyEnd({ how: 'returned' }, facts({ growFailed: true }))).toEqual({ kind: 'exited', exitCode: 0 });
  });

  it('tells fuel exhaustion from a real unreachable by the fuel global', () => {
    expect(classifyEnd({ how: 'threw', error: trap('unreachable') }, facts({ fuelExhausted: true })).kind).toBe('fuel_exhausted');
    expect(classifyEnd({ how: 'threw', error: trap('unreachable') }, facts()).kind).toBe('trap');
  });

  it('reports output floods as output_limit', () => {
    const e = new OutputLimitExceeded(1 << 20);
    expect(classifyEnd({ how: 'output_limit', message: e.message }, facts())).toMatchObject({ kind: 'output_limit', exitCode: null });
  });

  it('reports link and compile errors as invalid_module', () => {
    const link = new WebAssembly.LinkError('WebAssembly.Instance(): Import #0 "env" "f": function import requires a callable');
    expect(classifyEnd({ how: 'threw', error: link }, facts()).kind).toBe('invalid_module');
  });

  it('reports host bugs as host_error', () => {
    const end = classifyEnd({ how: 'threw', error: new TypeError('cannot read properties of undefined') }, facts());
    expect(end.kind).toBe('host_error');
    expect(end.error).toContain('cannot read properties of undefined');
  });
});
