/**
 * Building agents from source in the runtime's build threads (src/runtime/build): AssemblyScript
 * with the WASI shim, in memory, with diagnostics that name file, line and column, and a deadline.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRuntime } from '../../src/runtime/index.js';
import type { Runtime, SourceFile } from '../../src/runtime/index.js';
import { runRequest, sha256Hex, text } from '../helpers/fixtures.js';

const fixture = async (path: string): Promise<SourceFile> => ({ path, text: await readFile(new URL(`../fixtures/as/${path}`, import.meta.url), 'utf8') });

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime({ workers: 1 });
});
afterAll(async () => {
  await rt?.close();
});

describe('AssemblyScript builds', () => {
  it('builds a WASI command from several files, which runs with args, env and exit code', async () => {
    const built = await rt.build({ language: 'assemblyscript', files: [await fixture('main.ts'), await fixture('lib/greet.ts')] });
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    expect(built.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const info = await rt.inspect(built.wasm);
    expect(info.isCommand).toBe(true);
    expect(info.imports.every((i) => i.module === 'wasi_snapshot_preview1')).toBe(true);
    const o = await rt.run(runRequest({ digest: sha256Hex(built.wasm), bytes: built.wasm }, { args: ['you', '3'], env: { NAME: 'x' } }));
    expect(o).toMatchObject({ kind: 'exited', exitCode: 3 });
    expect(text(o.stdout)).toBe('hello, you\nNAME=x\n');
  }, 60_000);

  it('fails with diagnostics naming file, line and column, and the compiler log', async () => {
    const built = await rt.build({
      language: 'assemblyscript',
      files: [
        { path: 'main.ts', text: 'import { f } from "./util";\nconsole.log(f().toString());\n' },
        { path: 'util.ts', text: 'export function f(): i32 {\n  let x: i32 = "oops";\n  return x;\n}\n' },
      ],
    });
    expect(built.ok).toBe(false);
    expect(built.diagnostics).toContainEqual({ severity: 'error', code: 'TS2322', message: "Type '~lib/string/String' is not assignable to type 'i32'.", file: 'util.ts', line: 2, column: 16 });
    expect(built.log).toContain('util.ts(2,16)');
  }, 60_000);

  it('reads nothing but the request: a missing import is a diagnostic, not a host file', async () => {
    const built = await rt.build({ language: 'assemblyscript', files: [{ path: 'main.ts', text: 'import { x } from "./etc/passwd";\nimport { y } from "../../../../etc/hostname";\nconsole.log(x + y);\n' }] });
    expect(built.ok).toBe(false);
    expect(built.diagnostics.map((d) => d.code)).toContain('TS6054');
  }, 60_000);

  it('stops a build at its deadline: the build fails, and the next one builds in a fresh thread', async () => {
    const slow = makeRuntime({ workers: 1, buildTimeoutMs: 200 });
    try {
      // A cold thread loads the compiler for longer than 200 ms: the deadline passes.
      const built = await slow.build({ language: 'assemblyscript', files: [await fixture('lib/greet.ts')] });
      expect(built.ok).toBe(false);
      expect(built.diagnostics).toEqual([{ severity: 'error', code: 'BUILD', message: 'the build took longer than 200 ms', file: null, line: null, column: null }]);
    } finally {
      await slow.close();
    }
  }, 60_000);
});
