/**
 * `spindle run`: one module on this machine, no server, through the same runtime a Spindle node
 * runs tasks on (sandboxed worker, limits, in-memory filesystem). stdin, stdout, stderr and the
 * exit status behave like `wasmtime run`'s: the guest's own exit code, or a code that says how it
 * was stopped (EXIT_CODES).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, loadConfig } from '../config/index.js';
import type { FileEntry, Limits } from '../domain/index.js';
import { makeRuntime, watToWasm, type RunOutcome } from '../runtime/index.js';
import { exitCodeOf } from './exit-codes.js';
import { readInputFiles, readLocal, readStdin } from './inputs.js';
import { UsageError, type Io } from './io.js';

export interface RunOptions {
  module: string;
  args: string[];
  env: Record<string, string>;
  /** Host path → guest path (absolute). */
  files: { host: string; guest: string }[];
  /** Where the files the guest wrote go; none: they are dropped. */
  outDir?: string;
  /** Read stdin from this file ("-": this process's stdin, also the default when it is not a terminal). */
  stdinFile?: string;
  argv0?: string;
  timeoutMs?: string;
  memory?: string;
  maxOutput?: string;
  fuel?: string;
  json: boolean;
}

/** The limit flags, as the server's DEFAULT_* settings they stand for (same units, same ranges). */
const LIMIT_FLAGS = [
  ['timeoutMs', '--timeout-ms', 'DEFAULT_TIMEOUT_MS'],
  ['memory', '--memory', 'DEFAULT_MEMORY_BYTES'],
  ['maxOutput', '--max-output', 'DEFAULT_MAX_OUTPUT_BYTES'],
  ['fuel', '--fuel', 'DEFAULT_FUEL'],
] as const;

/**
 * The run's limits: the flags, else the DEFAULT_* environment a node would use, checked as a node
 * checks them (MAX_* included). An error names the flag.
 */
export function limitsFrom(o: Pick<RunOptions, 'timeoutMs' | 'memory' | 'maxOutput' | 'fuel'>, env: NodeJS.ProcessEnv): Limits {
  // The limit settings alone: an unrelated setting of this shell (PORT, DATABASE_URL, …) is not ours to judge.
  const settings: Record<string, string | undefined> = Object.fromEntries(Object.entries(env).filter(([name]) => /^(DEFAULT|MAX)_/.test(name)));
  for (const [key, , setting] of LIMIT_FLAGS) if (o[key] !== undefined) settings[setting] = o[key];
  try {
    return loadConfig(settings).limits.defaults;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const problems = err.problems.filter((p) => /^(DEFAULT|MAX)_/.test(p)).map((p) => LIMIT_FLAGS.reduce((text, [key, flag, setting]) => (o[key] !== undefined ? text.replaceAll(setting, flag) : text), p));
    throw new UsageError(problems.length > 0 ? problems.join('\n') : err.message);
  }
}

export async function loadModule(path: string): Promise<Uint8Array> {
  const bytes = await readLocal(path, `cannot read ${path}`);
  // The binary format starts with "\0asm"; anything else is taken as WebAssembly text.
  if (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d) return bytes;
  try {
    return await watToWasm(bytes.toString('utf8'), path);
  } catch (err) {
    throw new UsageError(`${path} is neither a WebAssembly binary nor valid WebAssembly text: ${(err as Error).message}`);
  }
}

/** Writes the guest's files under `dir`, each at its guest path; refuses a path that would leave it. */
async function writeOutputs(dir: string, files: FileEntry[]): Promise<string[]> {
  const root = resolve(dir);
  const written: string[] = [];
  for (const f of files) {
    const target = resolve(join(root, f.path));
    if (target !== root && !target.startsWith(root + '/')) continue;
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, f.bytes);
    written.push(target);
  }
  return written;
}

export async function runLocal(o: RunOptions, io: Io): Promise<number> {
  const limits = limitsFrom(o, io.env);
  const bytes = await loadModule(o.module);
  const [files, stdin] = await Promise.all([readInputFiles(o.files), readStdin(io, o.stdinFile)]);
  const runtime = makeRuntime({ workers: 1, outputFlushMs: 20 });
  let outcome: RunOutcome;
  const started = performance.now();
  try {
    const digest = (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex');
    // Live output goes straight through unless the answer is one JSON document.
    const live = o.json ? undefined : (chunk: { stream: 'stdout' | 'stderr'; data: Uint8Array }) => io.write(chunk.stream, chunk.data);
    const onInterrupt = new AbortController();
    io.onInterrupt(() => onInterrupt.abort());
    outcome = await runtime.run(
      { module: { digest, bytes }, argv0: o.argv0 ?? o.module.replace(/.*\//, ''), args: o.args, env: o.env, stdin, files, limits },
      onInterrupt.signal,
      live,
    );
  } finally {
    await runtime.close();
  }
  const wallMs = performance.now() - started;
  const written = o.outDir ? await writeOutputs(o.outDir, outcome.files) : [];
  const code = exitCodeOf(outcome.kind, outcome.exitCode);
  if (o.json) {
    const text = (b: Uint8Array) => new TextDecoder('utf-8', { fatal: false }).decode(b);
    io.print(
      JSON.stringify(
        {
          outcome: outcome.kind,
          exitCode: outcome.exitCode,
          stdout: text(outcome.stdout),
          stderr: text(outcome.stderr),
          stdoutTruncated: outcome.stdoutTruncated,
          stderrTruncated: outcome.stderrTruncated,
          trap: outcome.trap ?? null,
          error: outcome.error ?? null,
          files: outcome.files.map((f) => ({ path: f.path, size: f.bytes.length })),
          written,
          compileMs: round(outcome.compileMs),
          runMs: round(outcome.runMs),
          wallMs: round(wallMs),
          fuelUsed: outcome.fuelUsed?.toString() ?? null,
          memoryPeakBytes: outcome.memoryPeakBytes,
          limits: { ...limits, fuel: limits.fuel?.toString() ?? null },
        },
        null,
        2,
      ),
    );
    return code;
  }
  if (outcome.kind !== 'exited') io.error(`spindle: ${describe(outcome)}`);
  if (outcome.stdoutTruncated || outcome.stderrTruncated) io.error(`spindle: output beyond ${limits.maxOutputBytes} bytes per stream was dropped (--max-output)`);
  return code;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

function describe(o: RunOutcome): string {
  switch (o.kind) {
    case 'trap':
      return `wasm trap: ${o.trap?.message ?? o.error ?? 'unknown'}`;
    case 'timeout':
      return `timed out (${o.error ?? 'the wall-clock limit'}; --timeout-ms raises it)`;
    case 'fuel_exhausted':
      return `ran out of fuel (--fuel raises the budget)`;
    case 'memory_limit':
      return `${o.error ?? 'memory limit reached'} (--memory raises it)`;
    default:
      return `${o.kind.replace('_', ' ')}${o.error ? `: ${o.error}` : ''}`;
  }
}
