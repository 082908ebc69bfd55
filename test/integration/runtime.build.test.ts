/**
 * Building agents from source in the runtime's build threads (src/runtime/build): AssemblyScript
 * with the WASI shim, in memory, with diagnostics that name file, line and column, and a deadline.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRuntime } from '../../src/runtime/index.js';
import type { Runtime, SourceFile } from '../../src/runtime/index.js';
import { bytes, runRequest, sha256Hex, text } from '../helpers/fixtures.js';

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
      expect(built.diagnostics).toEqual([{ severity: 'error', code: 'BUILD', message: 'the build took longer than 200 ms (BUILD_TIMEOUT_MS)', file: null, line: null, column: null }]);
    } finally {
      await slow.close();
    }
  }, 60_000);
});

describe('C and C++ builds (clang compiled to WebAssembly, run on the runtime)', () => {
  const C = [
    { path: 'main.c', text: '#include <stdio.h>\n#include "greet.h"\nint main(int argc, char **argv) { greet(argc > 1 ? argv[1] : "world"); return argc > 2 ? 3 : 0; }\n' },
    { path: 'lib/greet.c', text: '#include <stdio.h>\n#include "../greet.h"\nvoid greet(const char *n) { printf("hello, %s\\n", n); }\n' },
    { path: 'greet.h', text: 'void greet(const char *n);\n' },
  ];
  const run = async (wasm: Uint8Array, args: string[]) => rt.run(runRequest({ digest: sha256Hex(wasm), bytes: wasm }, { args }));

  it('compiles and links several C files with a header into a WASI command', async () => {
    const built = await rt.build({ language: 'c', files: C });
    expect(built).toMatchObject({ ok: true, diagnostics: [] });
    if (!built.ok) return;
    expect(await run(built.wasm, ['c'])).toMatchObject({ kind: 'exited', exitCode: 0, stdout: bytes('hello, c\n') });
    expect(await run(built.wasm, ['c', 'x'])).toMatchObject({ exitCode: 3 });
  }, 120_000);

  it('compiles C++ with libc++ (iostream, std::string)', async () => {
    const built = await rt.build({ language: 'cpp', files: [{ path: 'main.cpp', text: '#include <iostream>\n#include <string>\nint main(int argc, char **argv) { std::string s = argc > 1 ? argv[1] : "world"; std::cout << "hi, " << s << std::endl; }\n' }] });
    expect(built.ok).toBe(true);
    if (built.ok) expect(text((await run(built.wasm, ['cpp'])).stdout)).toBe('hi, cpp\n');
  }, 120_000);

  it('reports compile errors with file, line and column, and link errors by the linker', async () => {
    const compile = await rt.build({ language: 'c', files: [{ path: 'main.c', text: '#include <stdio.h>\nint main() {\n  int x = 1\n  return x;\n}\n' }] });
    expect(compile.ok).toBe(false);
    expect(compile.diagnostics).toContainEqual({ severity: 'error', code: 'clang', message: "expected ';' at end of declaration", file: 'main.c', line: 3, column: 12 });
    expect(compile.log).toContain("main.c:3:12: error: expected ';' at end of declaration");
    const link = await rt.build({ language: 'c', files: [{ path: 'main.c', text: 'void missing(void);\nint main() { missing(); }\n' }] });
    expect(link.ok).toBe(false);
    expect(link.diagnostics).toContainEqual(expect.objectContaining({ severity: 'error', code: 'wasm-ld', message: expect.stringMatching(/undefined symbol: missing$/) }));
    const none = await rt.build({ language: 'c', files: [{ path: 'only.h', text: '' }] });
    expect(none).toMatchObject({ ok: false, diagnostics: [expect.objectContaining({ message: 'no source file to compile (.c)' })] });
  }, 120_000);
});

