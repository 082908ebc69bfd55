/**
 * The checks of a submitted task that need no I/O, each once, with an error naming the field
 * (`inputs[3].args: must have at most 1024 items`). The submit runs them on each input before it
 * looks that input's agent up (services/task.submit.ts); the executor and the store trust what
 * comes out.
 */
import { badInput, DEFAULT_MOUNTS, type FileEntry, type Limits, type Mount, type Requested, type RetryPolicy } from '../domain/index.js';
import type { NewTask } from '../store/index.js';
import { base64Size, decodeBase64, utf8 } from './codec.js';

/**
 * An input entry as a caller sends it: a file (exactly one of base64 and text), an empty
 * directory (a path ending in "/", no content) or a symlink (`symlinkTarget`, no content).
 */
export interface FileParams {
  path: string;
  base64?: string | null;
  text?: string | null;
  symlinkTarget?: string | null;
}

/** A preopened directory as a caller declares it. */
export interface MountParams {
  path: string;
  readOnly?: boolean | null;
}

/** One task as a caller submits it (submitTask's input, each of submitTasks' inputs). */
export interface SubmitTaskParams {
  /** Agent id or name. */
  agent: string;
  /** Agent version; latest when absent. */
  version?: number | null;
  args?: string[] | null;
  /** Should be an object of strings; checked here. */
  env?: unknown;
  stdin?: string | null;
  stdinBase64?: string | null;
  files?: FileParams[] | null;
  limits?: Requested<Limits> | null;
  retryPolicy?: Requested<RetryPolicy> | null;
  priority?: number | null;
  runAt?: Date | null;
  idempotencyKey?: string | null;
  deterministic?: { seed: number; epochMs?: number | null } | null;
  /** argv[0]; the agent's name when absent. */
  argv0?: string | null;
  /** The task's preopened directories; absent = "/" alone, writable; [] = none. */
  mounts?: MountParams[] | null;
}

export const MAX_ARGS = 1024;
export const MAX_ENV = 1024;
/** Args and env together, in UTF-8 bytes (the guest copies them into its memory at start). */
export const MAX_ARGS_ENV_BYTES = 1024 * 1024;
export const MAX_FILES = 1000;
export const MAX_PATH = 1024;
export const MAX_MOUNTS = 16;
/** In characters; a mount is a short directory name ("/in", "/out"). */
export const MAX_MOUNT_PATH = 255;
/** In UTF-8 bytes; it also counts towards MAX_ARGS_ENV_BYTES. */
export const MAX_ARGV0 = 1024;
/** In characters (Unicode code points): a key is stored and compared exactly, as the caller sent it. */
export const MAX_IDEMPOTENCY_KEY = 255;
/**
 * How far ahead runAt may be. A queue holds work that is due soon (hosted queues cap this at days
 * to weeks); a runAt years ahead is almost always a mistake, and it would hold a slot of the
 * tenant's queued-task quota for all that time. A past runAt means "now".
 */
export const MAX_RUN_AT_AHEAD_MS = 365 * 24 * 3_600_000;

export function checkArgs(field: string, args: string[]): string[] {
  if (args.length > MAX_ARGS) throw badInput(field, `must have at most ${MAX_ARGS} items`);
  return args;
}

export function checkEnv(field: string, env: unknown): Record<string, string> {
  if (env == null) return {};
  if (typeof env !== 'object' || Array.isArray(env)) throw badInput(field, 'must be an object of string values');
  const entries = Object.entries(env as Record<string, unknown>);
  if (entries.length > MAX_ENV) throw badInput(field, `must have at most ${MAX_ENV} variables`);
  // NUL and lone surrogates in names and values were refused before (args.guard.ts).
  for (const [k, v] of entries) {
    if (!k || k.includes('=')) throw badInput(`${field}.${k}`, 'variable names must be non-empty, without "="');
    if (typeof v !== 'string') throw badInput(`${field}.${k}`, 'must be a string');
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/** null: the agent's name (decided when the task runs). */
export function checkArgv0(field: string, argv0: string | null | undefined): string | null {
  if (argv0 == null) return null;
  const size = Buffer.byteLength(argv0);
  if (size < 1 || size > MAX_ARGV0) throw badInput(field, `must be 1-${MAX_ARGV0} bytes of UTF-8 (got ${size})`, { max: MAX_ARGV0 });
  return argv0;
}

export function checkArgsEnvSize(field: string, args: string[], env: Record<string, string>, argv0: string | null = null) {
  let size = argv0 === null ? 0 : Buffer.byteLength(argv0) + 1;
  for (const a of args) size += Buffer.byteLength(a) + 1;
  for (const [k, v] of Object.entries(env)) size += Buffer.byteLength(k) + Buffer.byteLength(v) + 2;
  if (size > MAX_ARGS_ENV_BYTES) throw badInput(`${field}.args`, `args and env together must be at most ${MAX_ARGS_ENV_BYTES} bytes (got ${size})`);
}

export function checkStdin(field: string, input: SubmitTaskParams, max: number): Uint8Array {
  if (input.stdin != null && input.stdinBase64 != null) throw badInput(`${field}.stdin`, 'give stdin or stdinBase64, not both');
  const size = input.stdin != null ? Buffer.byteLength(input.stdin) : input.stdinBase64 != null ? base64Size(input.stdinBase64) : 0;
  const name = input.stdinBase64 != null ? 'stdinBase64' : 'stdin';
  if (size > max) throw badInput(`${field}.${name}`, `is ${size} bytes; the maximum is ${max} bytes (MAX_STDIN_BYTES)`, { size, max });
  if (input.stdin != null) return utf8(input.stdin);
  if (input.stdinBase64 != null) return decodeBase64(`${field}.stdinBase64`, input.stdinBase64);
  return new Uint8Array(0);
}

/**
 * "/a/b.txt", "a/b.txt" → "/a/b.txt": one convention, absolute, for input paths as stored and as
 * the API returns them (output paths are absolute too); a relative path is relative to "/".
 * Rejects "..", ".", empty segments and over-long paths. NUL never gets here: args.guard.ts
 * refuses it in every input string but stdin and file contents.
 */
export function normalizePath(field: string, path: string, max = MAX_PATH): string {
  if (path.length === 0 || path.length > max) throw badInput(field, `must be 1-${max} characters (got ${path.length})`, { max });
  const segments = path.replace(/^\/+/, '').split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw badInput(field, `${JSON.stringify(path)} is not a valid path (no "..", ".", empty segments or trailing "/")`);
  }
  return '/' + segments.join('/');
}

/** Mounts: absolute, distinct, none inside another (each preopen is its own sandbox). */
export function checkMounts(field: string, mounts: MountParams[] | null | undefined): Mount[] | null {
  if (mounts == null) return null;
  if (mounts.length > MAX_MOUNTS) throw badInput(field, `must have at most ${MAX_MOUNTS} mounts (got ${mounts.length})`, { max: MAX_MOUNTS });
  const out: Mount[] = [];
  for (const [i, m] of mounts.entries()) {
    const f = `${field}[${i}].path`;
    if (!m.path.startsWith('/')) throw badInput(f, `${JSON.stringify(m.path)} must be absolute (start with "/")`);
    const path = m.path === '/' ? '/' : normalizePath(f, m.path, MAX_MOUNT_PATH);
    const j = out.findIndex((o) => o.path === path || inside(path, o.path) || inside(o.path, path));
    if (j >= 0) throw badInput(f, `${JSON.stringify(path)} overlaps ${field}[${j}].path (${JSON.stringify(out[j]!.path)}): mounts may not nest`);
    out.push({ path, readOnly: m.readOnly ?? false });
  }
  return out;
}

/** `path` lies strictly inside directory `dir` (both absolute and normalized). */
const inside = (path: string, dir: string) => dir === '/' ? path !== '/' : path.startsWith(dir + '/');

/**
 * Input files, empty directories ("/in/empty/") and symlinks, each strictly inside one of
 * `mounts` (null = the default "/").
 */
export function checkFiles(field: string, files: FileParams[], maxBytes: number, mounts: Mount[] | null = null): FileEntry[] | null {
  if (files.length === 0) return null;
  if (files.length > MAX_FILES) throw badInput(field, `must have at most ${MAX_FILES} files`);
  const within = mounts ?? DEFAULT_MOUNTS;
  const seen = new Map<string, number>();
  let total = 0;
  return files.map((file, i) => {
    const f = `${field}[${i}]`;
    const dir = file.path.length > 1 && file.path.endsWith('/');
    const path = normalizePath(`${f}.path`, dir ? file.path.slice(0, -1) : file.path);
    if (!within.some((m) => inside(path, m.path))) {
      throw badInput(`${f}.path`, `${JSON.stringify(path)} is not inside a mount (${within.map((m) => m.path).join(', ') || 'the task has none'})`);
    }
    const previous = seen.get(path);
    if (previous !== undefined) throw badInput(`${f}.path`, `duplicates ${field}[${previous}].path (${JSON.stringify(path)})`);
    seen.set(path, i);
    const content = file.base64 != null || file.text != null;
    if (dir || file.symlinkTarget != null) {
      if (content) throw badInput(f, dir ? 'a directory (path ending in "/") has no base64 or text' : 'a symlink has no base64 or text');
      if (dir && file.symlinkTarget != null) throw badInput(f, 'a path ending in "/" is a directory; it cannot have a symlinkTarget');
      if (dir) return { path, bytes: new Uint8Array(0), kind: 'dir' as const };
      const target = file.symlinkTarget!;
      if (target.length === 0 || target.length > MAX_PATH) throw badInput(`${f}.symlinkTarget`, `must be 1-${MAX_PATH} characters (got ${target.length})`, { max: MAX_PATH });
      // The guest could not follow it: absolute targets leave the sandbox (ENOTCAPABLE).
      if (target.startsWith('/')) throw badInput(`${f}.symlinkTarget`, 'must be relative to the symlink\'s directory');
      return { path, bytes: utf8(target), kind: 'symlink' as const };
    }
    if ((file.base64 == null) === (file.text == null)) throw badInput(f, 'exactly one of base64 and text must be given');
    total += file.text != null ? Buffer.byteLength(file.text) : base64Size(file.base64!);
    if (total > maxBytes) throw badInput(field, `files total more than the maximum of ${maxBytes} bytes (MAX_FILES_BYTES)`, { max: maxBytes });
    const bytes = file.text != null ? utf8(file.text) : decodeBase64(`${f}.base64`, file.base64!);
    return { path, bytes };
  });
}

export function checkIdempotencyKey(field: string, key: string | null | undefined, seen: Map<string, number>, i: number, fieldOf: (i: number) => string): string | null {
  if (key == null) return null;
  // A code point is one or two UTF-16 units: past twice the limit there is no need to count.
  const chars = key.length > 2 * MAX_IDEMPOTENCY_KEY ? null : [...key].length;
  if (chars === null || chars < 1 || chars > MAX_IDEMPOTENCY_KEY) {
    throw badInput(field, `must be 1-${MAX_IDEMPOTENCY_KEY} characters (got ${chars ?? `more than ${MAX_IDEMPOTENCY_KEY}`})`, { max: MAX_IDEMPOTENCY_KEY });
  }
  const previous = seen.get(key);
  if (previous !== undefined) throw badInput(field, `duplicates ${fieldOf(previous)}.idempotencyKey in the same batch`);
  seen.set(key, i);
  return key;
}

export function checkRunAt(field: string, runAt: Date) {
  const latest = Date.now() + MAX_RUN_AT_AHEAD_MS;
  if (runAt.getTime() > latest) throw badInput(field, `must be at most 365 days ahead (not after ${new Date(latest).toISOString()})`, { max: new Date(latest).toISOString() });
}

export function checkDeterministic(field: string, d: SubmitTaskParams['deterministic']): NewTask['deterministic'] {
  if (!d) return null;
  const epochMs = d.epochMs ?? 0;
  if (!Number.isFinite(epochMs) || epochMs < 0 || epochMs > 8.64e15) throw badInput(`${field}.epochMs`, 'must be between 0 and 8640000000000000');
  return { seed: d.seed, epochMs: Math.floor(epochMs) };
}
