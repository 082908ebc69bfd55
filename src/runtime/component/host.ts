/**
 * Spindle's own WASI 0.2 host, the import object
 * jco's instantiation-mode glue asks for (keys without versions: 'wasi:cli/environment', …), over
 * the same parts as the preview 1 host: Output (stdout/stderr with both caps), Clock
 * (deterministic mode included), RandomSource and the in-memory Fs, with one preopen per mount
 * (read-only ones refuse every change, as the preview 1 host's rights do).
 * Nothing here touches the host's filesystem, network or process.
 *
 * Conventions of jco's glue: a resource is a class whose instances the glue tracks; a function
 * returning `result<T, E>` returns T or throws a value carrying E in `payload`; `option<T>` is T
 * or undefined; u64 are bigint.
 */
import { DEFAULT_MOUNTS, type FileEntry, type Mount } from '../../domain/index.js';
import { FILETYPE } from '../wasi/abi.js';
import { Clock } from '../wasi/clock.js';
import { removeDirectory, rename, unlinkFile } from '../wasi/calls_path.js';
import { E, OutputLimitExceeded, type Errno } from '../wasi/errno.js';
import { Fs } from '../wasi/fs.js';
import { type DirNode, type FileNode, type Inode, readInto } from '../wasi/inode.js';
import { Output, type StreamName } from '../wasi/output.js';
import type { RandomSource } from '../wasi/random.js';

/** wasi:cli/exit: unwinds the guest; `code` 0 for ok, 1 for err (the interface has no other). */
export class ComponentExit extends Error {
  override readonly name = 'ComponentExit';
  constructor(readonly code: number) {
    super(`exit(${code})`);
  }
}

/** A value the glue turns into `err(payload)` of a result. */
class ResultError extends Error {
  constructor(readonly payload: unknown) {
    super(typeof payload === 'string' ? payload : JSON.stringify(payload));
  }
}

/** wasi:filesystem error-code names, by preview 1 errno (the same POSIX meanings). */
const ERROR_CODE: Partial<Record<Errno, string>> = {
  [E.ACCES]: 'access', [E.AGAIN]: 'would-block', [E.ALREADY]: 'already', [E.BADF]: 'bad-descriptor',
  [E.BUSY]: 'busy', [E.DEADLK]: 'deadlock', [E.DQUOT]: 'quota', [E.EXIST]: 'exist', [E.FBIG]: 'file-too-large',
  [E.ILSEQ]: 'illegal-byte-sequence', [E.INPROGRESS]: 'in-progress', [E.INTR]: 'interrupted', [E.INVAL]: 'invalid',
  [E.IO]: 'io', [E.ISDIR]: 'is-directory', [E.LOOP]: 'loop', [E.MLINK]: 'too-many-links', [E.MSGSIZE]: 'message-size',
  [E.NAMETOOLONG]: 'name-too-long', [E.NODEV]: 'no-device', [E.NOENT]: 'no-entry', [E.NOLCK]: 'no-lock',
  [E.NOMEM]: 'insufficient-memory', [E.NOSPC]: 'insufficient-space', [E.NOTDIR]: 'not-directory',
  [E.NOTEMPTY]: 'not-empty', [E.NOTRECOVERABLE]: 'not-recoverable', [E.NOTSUP]: 'unsupported', [E.NOTTY]: 'no-tty',
  [E.NXIO]: 'no-such-device', [E.OVERFLOW]: 'overflow', [E.PERM]: 'not-permitted', [E.PIPE]: 'pipe',
  [E.ROFS]: 'read-only', [E.SPIPE]: 'invalid-seek', [E.TXTBSY]: 'text-file-busy', [E.XDEV]: 'cross-device',
  [E.NOTCAPABLE]: 'not-permitted',
};

/** Runs `fn`, turning a preview 1 errno thrown by the Fs into wasi:filesystem's error-code. */
function fsCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (typeof e === 'number') throw new ResultError(ERROR_CODE[e as Errno] ?? 'io');
    throw e;
  }
}

const DESCRIPTOR_TYPE: Record<number, string> = {
  [FILETYPE.REGULAR_FILE]: 'regular-file',
  [FILETYPE.DIRECTORY]: 'directory',
  [FILETYPE.SYMBOLIC_LINK]: 'symbolic-link',
};

/** Most bytes one host call hands a guest or takes from it (the stream's `check-write`, a read, random bytes). */
const MAX_HOST_BYTES = 1_048_576n;

const toDatetime = (ns: bigint) => ({ seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) });

export interface P2HostOptions {
  args: string[];
  env: Record<string, string>;
  stdin: Uint8Array;
  files: FileEntry[];
  maxOutputBytes: number;
  hardOutputBytes: number;
  onOutput?: (stream: StreamName, buf: Uint8Array, start: number, end: number) => void;
  clock: Clock;
  random: RandomSource;
  fsLimits: { maxBytes: number; maxInodes: number };
  /** The preopened directories (default: "/" alone, writable). */
  mounts?: readonly Mount[];
}

export function makeP2Host(opts: P2HostOptions) {
  const output = new Output(opts.maxOutputBytes, opts.hardOutputBytes, opts.onOutput);
  const fs = new Fs(opts.clock, opts.fsLimits);
  for (const f of opts.files) fs.addInput(f);
  const { clock, random } = opts;

  class IoError {
    constructor(readonly message: string) {}
    toDebugString() {
      return this.message;
    }
  }
  const streamFailed = (e: unknown) => {
    if (typeof e === 'number') return new ResultError({ tag: 'last-operation-failed', val: new IoError(ERROR_CODE[e as Errno] ?? 'io') });
    return e;
  };
  const CLOSED = new ResultError({ tag: 'closed' });

  /** A directory's entries, one per call, then undefined (the end). */
  class DirectoryEntryStream {
    private i = 0;
    constructor(private readonly entries: { type: string; name: string }[]) {}
    readDirectoryEntry() {
      return this.entries[this.i++];
    }
  }

  /** Always ready: every stream here is in memory, every wait a clock's. */
  class Pollable {
    constructor(private readonly readyAt: bigint | null = null) {}
    ready() {
      return this.readyAt === null || clock.peek(1) >= this.readyAt;
    }
    block() {
      if (this.readyAt !== null) clock.wait(this.readyAt - clock.peek(1));
    }
    /** When it becomes ready (a stream: now). */
    at(): bigint {
      return this.readyAt ?? 0n;
    }
  }

  /**
   * wasi:io/poll: the indices of the pollables ready now; when none is, waits (the clock's wait:
   * real, or virtual in deterministic mode) until the earliest is, and answers those then ready.
   */
  function poll(list: Pollable[]): Uint32Array {
    const ready = () => list.flatMap((p, i) => (p.ready() ? [i] : []));
    let now = ready();
    if (now.length === 0 && list.length > 0) {
      const earliest = list.reduce((a, b) => (a.at() <= b.at() ? a : b));
      earliest.block();
      now = ready();
    }
    return new Uint32Array(now);
  }

  class InputStream {
    constructor(private readonly readAt: (len: number) => Uint8Array | null) {}
    read(len: bigint) {
      const chunk = this.readAt(Number(len > 1_048_576n ? 1_048_576n : len));
      if (chunk === null) throw CLOSED;
      return chunk;
    }
    blockingRead(len: bigint) {
      return this.read(len);
    }
    skip(len: bigint) {
      return BigInt(this.read(len).length);
    }
    blockingSkip(len: bigint) {
      return this.skip(len);
    }
    subscribe() {
      return new Pollable();
    }
  }

  class OutputStream {
    constructor(private readonly writeAll: (bytes: Uint8Array) => void) {}
    checkWrite() {
      return MAX_HOST_BYTES;
    }
    write(contents: Uint8Array) {
      try {
        this.writeAll(contents);
      } catch (e) {
        throw streamFailed(e);
      }
    }
    blockingWriteAndFlush(contents: Uint8Array) {
      this.write(contents);
    }
    flush() {}
    blockingFlush() {}
    writeZeroes(len: bigint) {
      // More than check-write allows is the guest's error (the interface says so), not an allocation.
      if (len > MAX_HOST_BYTES) throw new ResultError({ tag: 'last-operation-failed', val: new IoError('write-zeroes beyond check-write') });
      this.write(new Uint8Array(Number(len)));
    }
    blockingWriteZeroesAndFlush(len: bigint) {
      this.writeZeroes(len);
    }
    splice(src: InputStream, len: bigint) {
      const chunk = src.read(len);
      this.write(chunk);
      return BigInt(chunk.length);
    }
    blockingSplice(src: InputStream, len: bigint) {
      return this.splice(src, len);
    }
    subscribe() {
      return new Pollable();
    }
  }

  let stdinAt = 0;
  const stdin = new InputStream((len) => {
    if (stdinAt >= opts.stdin.length) return null;
    const chunk = opts.stdin.slice(stdinAt, stdinAt + len);
    stdinAt += chunk.length;
    return chunk;
  });
  // The glue's own error handling runs in another realm and may mistake our exception for an
  // error value to hand the guest: what ends the run is also recorded here (flood()).
  let flood: OutputLimitExceeded | null = null;
  const write = (stream: StreamName, bytes: Uint8Array) => {
    try {
      output.write(stream, [bytes]);
    } catch (e) {
      if (e instanceof OutputLimitExceeded) flood = e;
      throw e;
    }
  };
  const stdout = new OutputStream((bytes) => write('stdout', bytes));
  const stderr = new OutputStream((bytes) => write('stderr', bytes));

  class Descriptor {
    /** `writable`: a file opened for writing, or a directory in a writable mount. */
    constructor(readonly node: Inode, private readonly writable: boolean) {}
    /** Refuses a change through a directory of a read-only mount. */
    private mutable(): DirNode {
      if (!this.writable) throw new ResultError('read-only');
      return this.dir();
    }
    private file(): FileNode {
      if (this.node.type !== FILETYPE.REGULAR_FILE) throw new ResultError(this.node.type === FILETYPE.DIRECTORY ? 'is-directory' : 'invalid');
      return this.node;
    }
    private dir(): DirNode {
      if (this.node.type !== FILETYPE.DIRECTORY) throw new ResultError('not-directory');
      return this.node;
    }
    readViaStream(offset: bigint) {
      const f = this.file();
      let at = Number(offset);
      return new InputStream((len) => {
        if (at >= f.size) return null;
        const chunk = new Uint8Array(Math.min(len, f.size - at));
        at += readInto(f, at, [chunk]);
        return chunk;
      });
    }
    writeViaStream(offset: bigint) {
      const f = this.file();
      if (!this.writable) throw new ResultError('bad-descriptor');
      let at = Number(offset);
      return new OutputStream((bytes) => {
        fs.write(f, at, [bytes], bytes.length);
        at += bytes.length;
      });
    }
    appendViaStream() {
      const f = this.file();
      if (!this.writable) throw new ResultError('bad-descriptor');
      return new OutputStream((bytes) => fs.write(f, f.size, [bytes], bytes.length));
    }
    advise() {}
    syncData() {}
    sync() {}
    getFlags() {
      return { read: true, write: this.writable };
    }
    getType() {
      return DESCRIPTOR_TYPE[this.node.type] ?? 'unknown';
    }
    setSize(size: bigint) {
      if (!this.writable) throw new ResultError('bad-descriptor');
      fsCall(() => fs.setSize(this.file(), Number(size)));
    }
    read(length: bigint, offset: bigint): [Uint8Array, boolean] {
      const f = this.file();
      const at = Number(offset);
      if (at >= f.size) return [new Uint8Array(0), true];
      const chunk = new Uint8Array(Math.min(Number(length), f.size - at));
      readInto(f, at, [chunk]);
      return [chunk, at + chunk.length >= f.size];
    }
    write(buffer: Uint8Array, offset: bigint) {
      if (!this.writable) throw new ResultError('bad-descriptor');
      fsCall(() => fs.write(this.file(), Number(offset), [buffer], buffer.length));
      return BigInt(buffer.length);
    }
    readDirectory() {
      return new DirectoryEntryStream([...this.dir().entries].map(([name, node]) => ({ type: DESCRIPTOR_TYPE[node.type] ?? 'unknown', name })));
    }
    stat() {
      return statOf(this.node);
    }
    statAt(flags: { symlinkFollow?: boolean }, path: string) {
      return statOf(this.lookup(path, flags.symlinkFollow ?? false));
    }
    openAt(flags: { symlinkFollow?: boolean }, path: string, open: { create?: boolean; directory?: boolean; exclusive?: boolean; truncate?: boolean }, descFlags: { write?: boolean }) {
      return fsCall(() => {
        const r = fs.resolve(this.dir(), path, flags.symlinkFollow ?? false);
        let node = r.node;
        const write = Boolean(descFlags.write);
        // Nothing of a read-only mount may change: no file created, truncated or opened for writing.
        if (!this.writable && (write || open.truncate || (node === undefined && open.create))) throw E.ROFS;
        if (node === undefined) {
          if (!open.create) throw E.NOENT;
          node = fs.attach(r.parent!, r.name, fs.newFile());
        } else if (open.create && open.exclusive) throw E.EXIST;
        if (open.directory && node.type !== FILETYPE.DIRECTORY) throw E.NOTDIR;
        if (write && node.type === FILETYPE.DIRECTORY) throw E.ISDIR;
        if (open.truncate && node.type === FILETYPE.REGULAR_FILE) fs.setSize(node, 0);
        return new Descriptor(node, node.type === FILETYPE.DIRECTORY ? this.writable : write);
      });
    }
    createDirectoryAt(path: string) {
      fsCall(() => {
        const r = fs.resolve(this.mutable(), path, false);
        if (r.node !== undefined) throw E.EXIST;
        fs.attach(r.parent!, r.name, fs.newDir());
      });
    }
    // The preview 1 host's own checks (wasi/calls_path.ts): ".", a directory moved below itself,
    // a non-empty target, a file over a directory are refused the same way here.
    removeDirectoryAt(path: string) {
      fsCall(() => removeDirectory(fs, fs.resolve(this.mutable(), path, false)));
    }
    unlinkFileAt(path: string) {
      fsCall(() => unlinkFile(fs, fs.resolve(this.mutable(), path, false)));
    }
    renameAt(oldPath: string, newDescriptor: Descriptor, newPath: string) {
      fsCall(() => rename(fs, fs.resolve(this.mutable(), oldPath, false), fs.resolve(newDescriptor.mutable(), newPath, false)));
    }
    readlinkAt(path: string) {
      const node = this.lookup(path, false);
      if (node.type !== FILETYPE.SYMBOLIC_LINK) throw new ResultError('invalid');
      return node.target;
    }
    symlinkAt(oldPath: string, newPath: string) {
      fsCall(() => {
        const r = fs.resolve(this.mutable(), newPath, false);
        if (r.node !== undefined) throw E.EXIST;
        fs.attach(r.parent!, r.name, fs.newLink(oldPath));
      });
    }
    linkAt() {
      throw new ResultError('unsupported');
    }
    setTimes() {}
    setTimesAt() {}
    isSameObject(other: Descriptor) {
      return other.node === this.node;
    }
    metadataHash() {
      return { lower: BigInt(this.node.ino), upper: 0n };
    }
    metadataHashAt(flags: { symlinkFollow?: boolean }, path: string) {
      return { lower: BigInt(this.lookup(path, flags.symlinkFollow ?? false).ino), upper: 0n };
    }
    private lookup(path: string, follow: boolean): Inode {
      return fsCall(() => {
        const r = fs.resolve(this.dir(), path, follow);
        if (r.node === undefined) throw E.NOENT;
        return r.node;
      });
    }
  }

  function statOf(node: Inode) {
    return {
      type: DESCRIPTOR_TYPE[node.type] ?? 'unknown',
      linkCount: BigInt(node.type === FILETYPE.DIRECTORY ? node.nlink : node.nlink),
      size: BigInt(node.type === FILETYPE.DIRECTORY ? 0 : node.size),
      dataAccessTimestamp: toDatetime(node.atim),
      dataModificationTimestamp: toDatetime(node.mtim),
      statusChangeTimestamp: toDatetime(node.ctim),
    };
  }

  // One preopen per mount (DEFAULT_MOUNTS: "/" alone, writable), as the preview 1 host gives them.
  const mounts = opts.mounts ?? DEFAULT_MOUNTS;
  const preopens = mounts.map((m): [Descriptor, string] => [new Descriptor(fs.mkdirs(m.path.split('/').filter((p) => p !== '')), !m.readOnly), m.path]);
  const writableRoots = mounts.flatMap((m, i) => (m.readOnly ? [] : [{ path: m.path, node: preopens[i]![0].node as DirNode }]));
  const u64 = () => {
    const b = new Uint8Array(8);
    random.fill(b);
    return new DataView(b.buffer).getBigUint64(0, true);
  };
  // A guest's length is its own (u64): at most MAX_HOST_BYTES a call, so no call makes the host
  // allocate beyond what the caps account for (the preview 1 host writes into guest memory instead).
  const bytes = (len: bigint) => {
    const b = new Uint8Array(Number(len > MAX_HOST_BYTES ? MAX_HOST_BYTES : len));
    random.fill(b);
    return b;
  };
  class TerminalInput {}
  class TerminalOutput {}

  const imports = {
    'wasi:cli/environment': {
      getEnvironment: () => Object.entries(opts.env),
      getArguments: () => opts.args,
      initialCwd: () => '/',
    },
    'wasi:cli/exit': {
      exit: (status: { tag: 'ok' | 'err' }) => {
        throw new ComponentExit(status.tag === 'ok' ? 0 : 1);
      },
    },
    'wasi:cli/stdin': { getStdin: () => stdin },
    'wasi:cli/stdout': { getStdout: () => stdout },
    'wasi:cli/stderr': { getStderr: () => stderr },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    // Terminals, as the preview 1 host's stdio are character devices: libc then line-buffers
    // stdout (isatty), so a component's output arrives live as a module's does, not at exit.
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => new TerminalInput() },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => new TerminalOutput() },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => new TerminalOutput() },
    'wasi:io/error': { Error: IoError },
    'wasi:io/poll': { Pollable, poll },
    'wasi:io/streams': { InputStream, OutputStream },
    'wasi:clocks/monotonic-clock': {
      now: () => clock.read(1),
      resolution: () => clock.resolution(),
      subscribeInstant: (when: bigint) => new Pollable(when),
      subscribeDuration: (ns: bigint) => new Pollable(clock.peek(1) + ns),
    },
    'wasi:clocks/wall-clock': {
      now: () => toDatetime(clock.read(0)),
      resolution: () => toDatetime(clock.resolution()),
    },
    'wasi:random/random': { getRandomBytes: bytes, getRandomU64: u64 },
    'wasi:random/insecure': { getInsecureRandomBytes: bytes, getInsecureRandomU64: u64 },
    'wasi:random/insecure-seed': { insecureSeed: (): [bigint, bigint] => [u64(), u64()] },
    'wasi:filesystem/types': {
      Descriptor,
      DirectoryEntryStream,
      filesystemErrorCode: () => undefined,
    },
    'wasi:filesystem/preopens': { getDirectories: () => preopens },
  };

  return {
    imports,
    /** The hard output cap was hit (the run ends as output_limit, whatever reached the guest). */
    flood: () => flood,
    result() {
      const out = output.result('stdout');
      const err = output.result('stderr');
      return {
        stdout: out.bytes,
        stderr: err.bytes,
        stdoutTruncated: out.truncated,
        stderrTruncated: err.truncated,
        files: fs.modifiedFiles(writableRoots),
      };
    },
  };
}
