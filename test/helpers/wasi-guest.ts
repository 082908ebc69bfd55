/**
 * A guest that calls the WASI host one import at a time. A generated WAT "shim" imports every
 * preview 1 function with its exact signature and exports a wrapper for each, so tests drive
 * real wasm → host calls (i32/i64 conversions included) and inspect guest memory in between.
 */
import { beforeAll, expect } from 'vitest';
import { makeWasiHost, WASI_SIGNATURES, type WasiHost, type WasiHostOptions } from '../../src/runtime/wasi/index.js';
import { watToWasm } from './fixtures.js';

export const enc = new TextEncoder();
export const dec = new TextDecoder();
export const RIGHTS_ALL = (1n << 30n) - 1n;
export const RIGHT_READ = 1n << 1n;
export const RIGHT_WRITE = 1n << 6n;
export const O = { CREAT: 1, DIRECTORY: 2, EXCL: 4, TRUNC: 8 };
export const FILETYPE = { CHAR: 2, DIR: 3, FILE: 4, SYMLINK: 7 };
export const APPEND = 1;
export const FOLLOW = 1;

let shim: WebAssembly.Module;
/** Call at the top of a test file: builds the shim once per file. */
export function buildShim() {
  beforeAll(async () => {
    const types = (s: string) => [...s].map((p) => (p === 'I' ? 'i64' : 'i32')).join(' ');
    const parts = Object.entries(WASI_SIGNATURES).map(([name, sig]) => {
      const result = sig.results ? '(result i32)' : '';
      const args = [...sig.params].map((_, i) => `(local.get ${i})`).join(' ');
      return `(import "wasi_snapshot_preview1" "${name}" (func $${name} (param ${types(sig.params)}) ${result}))
        (func (export "${name}") (param ${types(sig.params)}) ${result} (call $${name} ${args}))`;
    });
    // Imports must precede definitions: emit all imports first.
    const imports = parts.map((p) => p.split('\n')[0]).join('\n');
    const funcs = parts.map((p) => p.split('\n')[1]).join('\n');
    shim = new WebAssembly.Module(await watToWasm(`(module ${imports} (memory (export "memory") 2) ${funcs})`));
  });
}

/** A guest to poke at: `call` invokes one import through wasm; helpers place strings and read results. */
export class Guest {
  readonly host: WasiHost;
  private readonly x: Record<string, (...a: (number | bigint)[]) => number>;
  private readonly memory: WebAssembly.Memory;
  private heap = 4096;

  constructor(opts: Partial<WasiHostOptions> = {}) {
    this.host = makeWasiHost({ args: ['shim'], env: {}, stdin: new Uint8Array(0), files: [], maxOutputBytes: 1 << 20, hardOutputBytes: 1 << 24, ...opts });
    const instance = new WebAssembly.Instance(shim, this.host.imports);
    this.x = instance.exports as never;
    this.memory = instance.exports.memory as WebAssembly.Memory;
    this.host.setMemory(this.memory);
  }

  get u8() { return new Uint8Array(this.memory.buffer); }
  get dv() { return new DataView(this.memory.buffer); }
  call(name: string, ...args: (number | bigint)[]): number { return this.x[name]!(...args); }
  alloc(n: number): number { const p = this.heap; this.heap += (n + 7) & ~7; return p; }
  put(data: string | Uint8Array): [number, number] {
    const bytes = typeof data === 'string' ? enc.encode(data) : data;
    const p = this.alloc(bytes.length);
    this.u8.set(bytes, p);
    return [p, bytes.length];
  }
  u32(p: number) { return this.dv.getUint32(p, true); }
  u64(p: number) { return this.dv.getBigUint64(p, true); }

  open(path: string, o: { oflags?: number; fdflags?: number; follow?: boolean; rights?: bigint; inheriting?: bigint; dir?: number } = {}) {
    const out = this.alloc(4);
    // A directory is opened without FD_WRITE (EISDIR otherwise), as opendir does.
    const rights = o.rights ?? ((o.oflags ?? 0) & O.DIRECTORY ? RIGHTS_ALL & ~RIGHT_WRITE : RIGHTS_ALL);
    const errno = this.call('path_open', o.dir ?? 3, o.follow ? FOLLOW : 0, ...this.put(path), o.oflags ?? 0, rights, o.inheriting ?? RIGHTS_ALL, o.fdflags ?? 0, out);
    return { errno, fd: this.u32(out) };
  }
  fd(path: string, o: Parameters<Guest['open']>[1] = {}): number {
    const r = this.open(path, o);
    expect(r.errno, `open ${path}`).toBe(0);
    return r.fd;
  }
  iov(bufs: [number, number][]): number {
    const p = this.alloc(bufs.length * 8);
    bufs.forEach(([b, l], i) => { this.dv.setUint32(p + i * 8, b, true); this.dv.setUint32(p + i * 8 + 4, l, true); });
    return p;
  }
  write(fd: number, data: string, at?: bigint) {
    const out = this.alloc(4);
    const iov = this.iov([this.put(data)]);
    const errno = at === undefined ? this.call('fd_write', fd, iov, 1, out) : this.call('fd_pwrite', fd, iov, 1, at, out);
    return { errno, n: this.u32(out) };
  }
  read(fd: number, len: number, at?: bigint) {
    const buf = this.alloc(len);
    const out = this.alloc(4);
    const iov = this.iov([[buf, len]]);
    const errno = at === undefined ? this.call('fd_read', fd, iov, 1, out) : this.call('fd_pread', fd, iov, 1, at, out);
    return { errno, text: dec.decode(this.u8.slice(buf, buf + this.u32(out))) };
  }
  seek(fd: number, off: bigint, whence: number) {
    const out = this.alloc(8);
    const errno = this.call('fd_seek', fd, off, whence, out);
    return { errno, pos: this.u64(out) };
  }
  path(name: string, path: string, ...rest: number[]): number { return this.call(name, 3, ...this.put(path), ...rest); }
  /** filestat by path: {filetype, size, nlink, ino, mtim} */
  stat(path: string, follow = false) {
    const out = this.alloc(64);
    const errno = this.call('path_filestat_get', 3, follow ? FOLLOW : 0, ...this.put(path), out);
    return { errno, ino: this.u64(out + 8), filetype: this.u8[out + 16], nlink: this.u64(out + 24), size: this.u64(out + 32), atim: this.u64(out + 40), mtim: this.u64(out + 48) };
  }
  fstat(fd: number) {
    const out = this.alloc(64);
    const errno = this.call('fd_filestat_get', fd, out);
    return { errno, filetype: this.u8[out + 16], size: this.u64(out + 32) };
  }
  readdir(fd: number, len: number, cookie = 0n) {
    const buf = this.alloc(len);
    const out = this.alloc(4);
    const errno = this.call('fd_readdir', fd, buf, len, cookie, out);
    const used = this.u32(out);
    const entries: { name: string; type: number; next: bigint; ino: bigint }[] = [];
    for (let p = buf; p + 24 <= buf + used;) {
      const namlen = this.u32(p + 16);
      if (p + 24 + namlen > buf + used) break; // the cut-off last entry
      entries.push({ next: this.u64(p), ino: this.u64(p + 8), type: this.u8[p + 20]!, name: dec.decode(this.u8.slice(p + 24, p + 24 + namlen)) });
      p += 24 + namlen;
    }
    return { errno, used, entries };
  }
  readlink(path: string, len = 64) {
    const buf = this.alloc(len);
    const out = this.alloc(4);
    const errno = this.path('path_readlink', path, buf, len, out);
    return { errno, target: dec.decode(this.u8.slice(buf, buf + this.u32(out))) };
  }
  files() { return this.host.result().files.map((f) => [f.path, dec.decode(f.bytes)]); }
}

export const input = (path: string, text: string) => ({ path, bytes: enc.encode(text) });
