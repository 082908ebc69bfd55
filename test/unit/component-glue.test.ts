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
