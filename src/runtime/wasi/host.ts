/**
 * makeWasiHost: one host per task. Building it is cheap (a few small objects and one closure
 * per import); the filesystem is built on first use and args/env are encoded on first use.
 */
import { DEFAULT_MOUNTS, type FileEntry, type Mount } from '../../domain/index.js';
import { procCalls } from './calls_proc.js';
import { fdCalls } from './calls_fd.js';
import { pathCalls } from './calls_path.js';
import { Clock } from './clock.js';
import { errnoOf } from './errno.js';
import { FdTable } from './fds.js';
import { Fs } from './fs.js';
import { GuestMemory } from './memory.js';
import { Output } from './output.js';
import { poll_oneoff } from './poll.js';
import { cryptoRandom, seededRandom } from './random.js';
import { lazyStrings, type State } from './state.js';

export interface WasiHostOptions {
  /** Full argv, argv[0] included. */
  args: string[];
  env: Record<string, string>;
  stdin: Uint8Array;
  /**
   * Input files, directories and symlinks; paths absolute or relative to "/", parent directories
   * implied, each inside a mount.
   */
  files: FileEntry[];
  /** The preopened directories, fd 3 on in this order (default: "/" alone, writable); none is allowed. */
  mounts?: readonly Mount[];
  /** stdout and stderr each keep this many bytes; beyond, bytes are dropped and the stream flagged truncated. */
  maxOutputBytes: number;
  /** Bytes the guest may try to write to stdout+stderr together; past it fd_write throws OutputLimitExceeded. */
  hardOutputBytes: number;
  /** Called synchronously with every kept chunk: bytes `start` to `end` of `buf`, valid during the call (copy what you keep). */
  onOutput?: (stream: 'stdout' | 'stderr', buf: Uint8Array, start: number, end: number) => void;
  deterministic?: { seed: number; epochMs: number };
  /** Bytes the guest's files may grow beyond the input files (default 64 MiB); past it: ENOSPC. */
  maxFsBytes?: number;
  /** Files, directories and symlinks the tree may hold (default 65536); past it: ENOSPC. */
  maxInodes?: number;
}

export interface WasiHost {
  /** The import object: `{ wasi_snapshot_preview1: {...every preview 1 function...} }`. */
  readonly imports: WebAssembly.Imports;
  /** Bind the instance's memory before calling `_start` (the host re-reads `buffer` after growth). */
  setMemory(memory: WebAssembly.Memory): void;
  /**
   * Detach the import functions from the task's state (stdin, captured output, filesystem); they
   * must not be called afterwards. The instance keeps its import functions alive, and V8
   * keeps instances alive until a full GC: without this, every task's
   * inputs and outputs would too.
   */
  dispose(): void;
  /** Captured output and the files the guest created or modified (final contents, sorted by path). */
  result(): { stdout: Uint8Array; stderr: Uint8Array; stdoutTruncated: boolean; stderrTruncated: boolean; files: FileEntry[] };
}

// Loosely typed on purpose: every call takes the state and then its own parameters.
type Call = (s: State, ...args: any[]) => number;

const CALLS: Record<string, Call> = { ...procCalls, ...fdCalls, ...pathCalls, poll_oneoff };

/** Names of every wasi_snapshot_preview1 import the host provides. */
export const WASI_FUNCTIONS: readonly string[] = Object.freeze(Object.keys(CALLS).sort());

const STATE = Symbol('wasi state');
type ImportsObject = { [STATE]: State | null } & Record<string, unknown>;

/**
 * The import functions live behind getters on a shared prototype: instantiation reads only the
 * names the module imports, so a hello world builds 3 closures instead of 46 (per-task closures
 * and their GC were most of the host's own cost). Each read builds a fresh closure (instantiation
 * reads each import once). `Object.keys` of the namespace is therefore empty: WASI_FUNCTIONS
 * lists what the host provides.
 */
const PROTO: object = Object.create(null);
for (const [name, fn] of Object.entries(CALLS)) {
  Object.defineProperty(PROTO, name, {
    enumerable: true,
    get(this: ImportsObject) {
      return name === 'proc_exit' ? procExit(this) : wrap(fn, this);
    },
  });
}

/** proc_exit only ever throws ProcExit: no errno to catch, and a rethrow costs a second unwind. */
const procExit = (ns: ImportsObject) => (code: number) => procCalls.proc_exit(ns[STATE]!, code);

function importsFor(s: State): ImportsObject {
  const ns = Object.create(PROTO) as ImportsObject;
  ns[STATE] = s;
  return ns;
}

/**
 * Errnos come back as thrown numbers; a bad guest pointer (RangeError) answers EFAULT;
 * ProcExit, OutputLimitExceeded and anything unexpected propagate out of the guest. Fixed
 * parameters (9 = the most any preview 1 call takes) are faster than rest/spread; extra
 * arguments are undefined and ignored.
 */
function wrap(fn: Call, ns: ImportsObject) {
  return (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, f: unknown, g: unknown, h: unknown, i: unknown): number => {
    try {
      // Through the namespace, not a captured State: dispose() can then cut the instance (which
      // outlives the task until a full GC) off from the task's inputs, outputs and files.
      return fn(ns[STATE]!, a, b, c, d, e, f, g, h, i);
    } catch (err) {
      return errnoOf(err);
    }
  };
}

export function makeWasiHost(opts: WasiHostOptions): WasiHost {
  const det = opts.deterministic;
  const clock = new Clock(det !== undefined, det?.epochMs ?? 0);
  const mem = new GuestMemory();
  const limits = { maxBytes: opts.maxFsBytes ?? 64 << 20, maxInodes: opts.maxInodes ?? 65536 };
  const mounts = opts.mounts ?? DEFAULT_MOUNTS;
  checkMounts(mounts, opts.files);
  const fds = new FdTable(() => {
    const fs = new Fs(clock, limits);
    for (const f of opts.files) fs.addInput(f);
    return fs;
  }, mounts);
  // Inputs are placed now when there are any, so a bad input path fails here and not mid-run.
  if (opts.files.length > 0) fds.fs();
  const s: State = {
    mem,
    fds,
    clock,
    random: det !== undefined ? seededRandom(det.seed) : cryptoRandom,
    out: new Output(opts.maxOutputBytes, opts.hardOutputBytes, opts.onOutput),
    stdin: opts.stdin,
    stdinPos: 0,
    argv: lazyStrings(() => opts.args),
    environ: lazyStrings(() => Object.entries(opts.env).map(([k, v]) => `${k}=${v}`)),
  };
  const ns = importsFor(s);
  return {
    imports: { wasi_snapshot_preview1: ns as unknown as WebAssembly.ModuleImports },
    setMemory: (memory) => mem.bind(memory),
    dispose() {
      ns[STATE] = null;
    },
    result() {
      const out = s.out.result('stdout');
      const err = s.out.result('stderr');
      return {
        stdout: out.bytes,
        stderr: err.bytes,
        stdoutTruncated: out.truncated,
        stderrTruncated: err.truncated,
        files: fds.fsIfBuilt()?.modifiedFiles(fds.writable) ?? [],
      };
    },
  };
}

/**
 * Mounts are absolute, distinct and never one inside another (each preopen is its own sandbox:
 * a nested one would make a read-only mount reachable through a writable one), and every input
 * lies strictly inside one. The submit checks all this with field names; here a violation is a
 * caller bug.
 */
function checkMounts(mounts: readonly Mount[], files: readonly FileEntry[]): void {
  const under = (path: string, dir: string) => dir === '/' || path.startsWith(dir + '/');
  for (const [i, m] of mounts.entries()) {
    if (!m.path.startsWith('/') || (m.path !== '/' && m.path.endsWith('/'))) throw new Error(`mount path ${JSON.stringify(m.path)} must be absolute, without a trailing "/"`);
    for (const other of mounts.slice(i + 1)) {
      if (under(other.path, m.path) || under(m.path, other.path) || other.path === m.path) {
        throw new Error(`mounts ${JSON.stringify(m.path)} and ${JSON.stringify(other.path)} overlap`);
      }
    }
  }
  for (const f of files) {
    const path = f.path.startsWith('/') ? f.path : `/${f.path}`;
    if (!mounts.some((m) => under(path, m.path))) throw new Error(`input file path ${JSON.stringify(f.path)} is not inside a mount`);
  }
}
