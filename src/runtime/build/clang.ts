/**
 * C and C++ builds with clang and wasm-ld compiled to WebAssembly (`@yowasp/clang`: LLVM's
 * multicall binary as a WASI preview 1 command, with a wasi-libc and libc++ sysroot), run as
 * Spindle runs on Spindle's own runtime: every step has the task sandbox's limits (a memory cap
 * on LLVM's linear memory, a deadline, capped output) and an in-memory filesystem holding the
 * sysroot at /usr, the user's files at / and scratch space at /tmp. No host toolchain is used and
 * no source touches the host's disk.
 *
 * Without processes, the clang driver cannot start cc1 and wasm-ld itself: as yowasp's own
 * `runClang` does, the driver is run once with `-###` to print the commands it would run, and
 * each is then run in turn (one cc1 per source file, then the link), the objects of one step
 * handed to the next as files.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FileEntry } from '../../domain/index.js';
import { sha256Hex } from '../cache.js';
import type { RunOutcome, RunRequest } from '../types.js';
import { buildError, type BuildRequest, type BuildResult, type Diagnostic } from './types.js';

/** LLVM's linear memory may grow to this during a step (cc1 of C++ with libc++ headers: ~60 MiB seen). */
export const CLANG_MEMORY_BYTES = 512 * 2 ** 20;
const STDERR_BYTES = 1 << 20;
const OUTPUT = 'out.wasm';

/** Source files compiled (headers are only read through #include). */
export const COMPILED = { c: /\.c$/, cpp: /\.(?:cpp|cc|cxx|c)$/ } as const;

interface Llvm {
  module: { digest: string; bytes: Uint8Array };
  /** The sysroot as input files under /usr, plus an empty /tmp. */
  sysroot: FileEntry[];
  version: string;
}

const genDir = () => dirname(createRequire(import.meta.url).resolve('@yowasp/clang'));

/** The package's version, without loading its 100 MB (part of a build's cache key). */
export function clangVersion(): string {
  const pkg = JSON.parse(readFileSync(join(genDir(), '..', 'package.json'), 'utf8')) as { version: string };
  return `@yowasp/clang ${pkg.version}`;
}

/** A ustar archive's directories and files as input files under `root`. */
function untar(tar: Uint8Array, root: string): FileEntry[] {
  const files: FileEntry[] = [];
  const text = (from: number, len: number) => Buffer.from(tar.buffer, tar.byteOffset + from, len).toString('latin1').replace(/\0.*$/s, '');
  for (let at = 0; at + 512 <= tar.length; ) {
    const name = text(at + 345, 155) ? `${text(at + 345, 155)}/${text(at, 100)}` : text(at, 100);
    if (name === '') break;
    const size = parseInt(text(at + 124, 12).trim(), 8) || 0;
    const type = String.fromCharCode(tar[at + 156]!);
    const path = `${root}/${name.replace(/\/$/, '')}`;
    if (type === '5') files.push({ path, bytes: new Uint8Array(0), kind: 'dir' });
    else if (type === '0' || type === '\0') files.push({ path, bytes: tar.subarray(at + 512, at + 512 + size), kind: 'file' });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

let llvm: Llvm | undefined;
function loadLlvm(): Llvm {
  if (llvm) return llvm;
  const gen = genDir();
  const bytes = new Uint8Array(readFileSync(join(gen, 'llvm.core.wasm')));
  const sysroot = untar(new Uint8Array(readFileSync(join(gen, 'llvm-resources.tar'))), '/usr');
  sysroot.push({ path: '/tmp', bytes: new Uint8Array(0), kind: 'dir' });
  return (llvm = { module: { digest: sha256Hex(bytes), bytes }, sysroot, version: clangVersion() });
}

/** Lets go of clang's bytes and sysroot (~105 MB) when builds have been idle (runtime/index.ts). */
export function forgetClang(): void {
  llvm = undefined;
}

/** The commands `clang -###` prints: one per line, each argument double-quoted with backslash escapes. */
export function parseCommands(stderr: string): string[][] {
  const commands: string[][] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith(' "')) continue;
    const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1'));
    // The driver's own path comes first, empty here: the multicall binary takes the tool as argv[1].
    if (args[0] === '') args.shift();
    commands.push(args);
  }
  return commands;
}

const DIAGNOSTIC = /^(.+?):(\d+):(\d+): (fatal error|error|warning|note): (.*)$/;
const TOOL_DIAGNOSTIC = /^([\w+.-]+): (error|warning): (.*)$/;

/** clang's and wasm-ld's messages as diagnostics (`file:line:col: error: message`, `wasm-ld: error: …`). */
export function parseDiagnostics(stderr: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const line of stderr.split('\n')) {
    const m = DIAGNOSTIC.exec(line);
    if (m) {
      const severity = m[4] === 'warning' ? 'warning' : m[4] === 'note' ? 'info' : 'error';
      const option = /\s\[(-W[\w=+-]+)\]$/.exec(m[5]!);
      out.push({ severity, code: option?.[1] ?? 'clang', message: m[5]!, file: m[1]!.replace(/^\//, ''), line: Number(m[2]), column: Number(m[3]) });
      continue;
    }
    const t = TOOL_DIAGNOSTIC.exec(line);
    if (t) out.push({ severity: t[2] === 'warning' ? 'warning' : 'error', code: t[1]!, message: t[3]!, file: null, line: null, column: null });
  }
  return out;
}

/** Why a step did not exit 0, as a diagnostic (limits, traps). */
function stepFailed(tool: string, o: RunOutcome): Diagnostic | null {
  if (o.kind === 'exited') return null;
  const why =
    o.kind === 'memory_limit' ? `ran out of memory (its cap is ${CLANG_MEMORY_BYTES / 2 ** 20} MiB)` : o.kind === 'timeout' ? 'took longer than the build may (BUILD_TIMEOUT_MS)' : `ended: ${o.kind}${o.error ? ` (${o.error})` : ''}`;
  return buildError(`${tool} ${why}`);
}

export class ClangBuilds {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    /** Runs a module on the build runtime (its own worker threads). */
    private readonly run: (req: RunRequest) => Promise<RunOutcome>,
    private readonly timeoutMs: number,
    /** Builds at once (BUILD_CONCURRENCY): more wait in order, their deadline not yet running. */
    private readonly concurrency: number,
  ) {}

  async build(req: BuildRequest): Promise<BuildResult> {
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await this.buildNow(req);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async buildNow(req: BuildRequest): Promise<BuildResult> {
    const started = performance.now();
    const { module, sysroot } = loadLlvm();
    const user: FileEntry[] = req.files.map((f) => ({ path: `/${f.path}`, bytes: new TextEncoder().encode(f.text) }));
    const sources = req.files.map((f) => f.path).filter((p) => (req.language === 'cpp' ? COMPILED.cpp : COMPILED.c).test(p));
    const driver = req.language === 'cpp' ? ['clang++', '-fno-exceptions'] : ['clang'];
    let log = '';
    const diagnostics: Diagnostic[] = [];
    const fail = (extra?: Diagnostic | null): BuildResult => ({ ok: false, log, diagnostics: extra ? [...diagnostics, extra] : diagnostics, buildMs: performance.now() - started });
    if (sources.length === 0) return fail(buildError(`no source file to compile (${req.language === 'cpp' ? '.cpp, .cc, .cxx or .c' : '.c'})`));

    /** LLVM's multicall binary (`args[0]` names the tool) as a run with the build's limits. */
    const llvm = (args: string[], files: FileEntry[], timeoutMs: number) =>
      this.run({ module, argv0: 'yowasp-llvm', args, env: {}, stdin: new Uint8Array(0), files, limits: { timeoutMs, memoryBytes: CLANG_MEMORY_BYTES, maxOutputBytes: STDERR_BYTES } });
    const step = async (args: string[], files: FileEntry[]): Promise<RunOutcome | BuildResult> => {
      const left = this.timeoutMs - (performance.now() - started);
      if (left <= 0) return fail(buildError(`the build took longer than ${this.timeoutMs} ms (BUILD_TIMEOUT_MS)`));
      const o = await llvm(args, files, Math.ceil(left));
      const stderr = new TextDecoder().decode(o.stderr);
      log += stderr;
      diagnostics.push(...parseDiagnostics(stderr));
      const stopped = stepFailed(args[0]!, o);
      if (stopped) return fail(stopped);
      if (o.exitCode !== 0) return fail(diagnostics.some((d) => d.severity === 'error') ? null : buildError(`${args[0]} exited with ${o.exitCode}`));
      return o;
    };
    const isResult = (x: RunOutcome | BuildResult): x is BuildResult => 'ok' in x;

    // What the driver would run: cc1 per source, then wasm-ld.
    const plan = await llvm([...driver, '--target=wasm32-wasip1', '-O2', '-###', ...sources, '-o', OUTPUT], [...sysroot, ...user], this.timeoutMs);
    const planned = new TextDecoder().decode(plan.stderr);
    const commands = parseCommands(planned);
    if (plan.kind !== 'exited' || plan.exitCode !== 0 || commands.length === 0) {
      log += planned;
      diagnostics.push(...parseDiagnostics(planned));
      return fail(stepFailed('clang', plan) ?? (diagnostics.length ? null : buildError('clang planned nothing to run')));
    }

    let made: FileEntry[] = [];
    let last: RunOutcome | undefined;
    for (const args of commands) {
      const r = await step(args, [...sysroot, ...user, ...made]);
      if (isResult(r)) return r;
      made = [...made, ...r.files.filter((f) => f.path.startsWith('/tmp/'))];
      last = r;
    }
    const wasm = last?.files.find((f) => f.path === `/${OUTPUT}`)?.bytes;
    if (!wasm) return fail(buildError('the link wrote no module'));
    return { ok: true, wasm, log, diagnostics, buildMs: performance.now() - started };
  }
}
