/**
 * The AssemblyScript build thread (builder.ts, tools.ts). The compiler (`assemblyscript`, itself
 * JavaScript) reads and writes only through the callbacks given here: the request's files, the
 * WASI shim's library files (read once from its package) and an output kept in memory. Nothing of
 * a build touches the host's filesystem, and no file of the request can configure the compiler:
 * the config path given cannot exist, and only `.ts` files of the request are served (an
 * `asconfig.json` could name a transform, which the compiler would import as code).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { workerData } from 'node:worker_threads';
import { serveTool } from '../tools.js';
import type { BuildRequest, BuildResult, Diagnostic } from './types.js';

interface AscDiagnostic {
  message: string;
  code: number;
  category: number;
  range: { start: number; end: number; source: { normalizedPath: string } | null } | null;
}
interface Asc {
  main(argv: string[], options: {
    readFile(name: string, baseDir: string): string | null;
    writeFile(name: string, contents: Uint8Array | string, baseDir: string): void;
    listFiles(dir: string, baseDir: string): string[] | null;
    reportDiagnostic(d: AscDiagnostic): void;
  }): Promise<{ error: Error | null; stderr: { toString(): string } }>;
}

const { ascUrl, shimDir, shimOptions } = workerData as { ascUrl: string; shimDir: string; shimOptions: { use: string[]; exportStart: string } };

/** A directory name no request file can have: the shim's files are served under it. */
const SHIM = '/wasi-shim';
const CONFIG = '/no-config/asconfig.json';
const shim = new Map<string, string>();
for (const f of readdirSync(shimDir, { recursive: true, encoding: 'utf8' })) if (f.endsWith('.ts')) shim.set(f, readFileSync(join(shimDir, f), 'utf8'));

let asc: Promise<Asc> | undefined;
const SEVERITY = ['info', 'info', 'warning', 'error'] as const;

/** 1-based line and column of `offset` in `text`. */
function position(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

serveTool<BuildRequest, BuildResult>(async (req) => {
  const started = performance.now();
  const files = new Map(req.files.map((f) => [f.path, f.text]));
  const diagnostics: Diagnostic[] = [];
  const outputs = new Map<string, Uint8Array | string>();
  try {
    const compiler = await (asc ??= import(ascUrl).then((m: { default: Asc }) => m.default));
    const argv = [
      req.files[0]!.path, '--outFile', 'out.wasm', '--config', CONFIG, '--lib', SHIM,
      ...shimOptions.use.flatMap((u) => ['--use', u]), '--exportStart', shimOptions.exportStart,
      '--optimize', '--noColors',
    ];
    const result = await compiler.main(argv, {
      readFile: (name, baseDir) => (baseDir === SHIM ? shim.get(name) : baseDir === '.' && name.endsWith('.ts') ? files.get(name) : undefined) ?? null,
      writeFile: (name, contents) => void outputs.set(name, contents),
      listFiles: (dir) => (dir === SHIM ? [...shim.keys()].filter((f) => !f.includes('/')) : []),
      reportDiagnostic: (d) => {
        const path = d.range?.source?.normalizedPath ?? null;
        const text = path === null ? undefined : (files.get(path) ?? shim.get(path.replace(/^~lib\//, '')));
        const at = d.range && text !== undefined ? position(text, d.range.start) : null;
        diagnostics.push({
          severity: SEVERITY[d.category] ?? 'error',
          code: `${d.code >= 1000 ? 'TS' : 'AS'}${d.code}`,
          message: d.message,
          file: path,
          line: at?.line ?? null,
          column: at?.column ?? null,
        });
      },
    });
    const log = result.stderr.toString();
    const wasm = outputs.get('out.wasm');
    const buildMs = performance.now() - started;
    if (result.error || !(wasm instanceof Uint8Array)) return { ok: false, log: log || String(result.error?.message ?? 'no output'), diagnostics, buildMs };
    return { ok: true, wasm, log, diagnostics, buildMs };
  } catch (err) {
    return { ok: false, log: `the compiler failed: ${err instanceof Error ? err.message : String(err)}`, diagnostics, buildMs: performance.now() - started };
  }
});
