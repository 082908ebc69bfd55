import { describe, expect, it } from 'vitest';
import { evaluateGlue } from '../../src/runtime/component/glue.js';

describe('component glue', () => {
  it('is evaluated with nothing of the host: no process, no require, no code from strings', () => {
    const probe = evaluateGlue(
      '\nexport function instantiate() { return { process: typeof process, require: typeof require, eval: (() => { try { return Function("return 1")(); } catch (e) { return e.name; } })() }; }\n',
    );
    expect(probe.instantiate(() => null as never, {}, () => null as never)).toEqual({ process: 'undefined', require: 'undefined', eval: 'EvalError' });
  });

  it('refuses glue with any other import or export', () => {
    expect(() => evaluateGlue("import fs from 'node:fs';\nexport function instantiate() {}\n")).toThrow(/an import or export other than/);
    expect(() => evaluateGlue('\nexport function instantiate() {}\nexport function instantiate() {}\n')).toThrow(/expected one/);
  });
});

describe('component glue, kept between runs', () => {
  it('is evaluated once, and afresh when a run left a global behind', () => {
    const source = '\nexport function instantiate(g, imports) { const fresh = {}; if (imports.leak) globalThis.leaked = 1; return { fresh, leaked: typeof leaked }; }\n';
    const a = evaluateGlue(source);
    expect(evaluateGlue(source)).toBe(a); // kept
    const first = a.instantiate(() => null as never, {}, () => null as never);
    expect(a.instantiate(() => null as never, {}, () => null as never).fresh).not.toBe(first.fresh); // state is per call
    expect(a.instantiate(() => null as never, { leak: {} } as never, () => null as never).leaked).toBe('number');
    const b = evaluateGlue(source); // the leak is seen: a new context
    expect(b).not.toBe(a);
    expect(b.instantiate(() => null as never, {}, () => null as never).leaked).toBe('undefined');
  });
});
