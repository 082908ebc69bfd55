/**
 * Views over the guest's linear memory. The buffer is replaced when memory grows (and detached
 * when it is not shared), so every access goes through `dv()`/`u8()`, which rebuild the views
 * only when `memory.buffer` changed: no allocation per call on the hot path.
 */
import { E } from './errno.js';

const decoder = new TextDecoder('utf-8', { fatal: true });
export const encoder = new TextEncoder();
/** Placeholders until the first access: a host that is never called allocates no views. */
const EMPTY_VIEW = new DataView(new ArrayBuffer(0));
const EMPTY_BYTES = new Uint8Array(0);

/** What the host needs of a WebAssembly.Memory. */
export interface MemoryLike {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}

export class GuestMemory {
  private memory: MemoryLike | null = null;
  private buf: ArrayBufferLike | null = null;
  private view: DataView = EMPTY_VIEW;
  private bytes: Uint8Array = EMPTY_BYTES;
  /** TextDecoder refuses views of a SharedArrayBuffer (threads): copy first in that case. */
  private shared = false;

  bind(memory: MemoryLike): void {
    this.memory = memory;
    this.buf = null;
  }

  private refresh(): void {
    // A call before setMemory is a pool bug, not a guest fault: say so loudly.
    if (this.memory === null) throw new Error('WASI host: setMemory() was not called before _start');
    const b = this.memory.buffer;
    this.buf = b;
    this.view = new DataView(b);
    this.bytes = new Uint8Array(b);
    this.shared = typeof SharedArrayBuffer !== 'undefined' && b instanceof SharedArrayBuffer;
  }

  dv(): DataView {
    if (this.memory === null || this.memory.buffer !== this.buf) this.refresh();
    return this.view;
  }

  u8(): Uint8Array {
    if (this.memory === null || this.memory.buffer !== this.buf) this.refresh();
    return this.bytes;
  }

  /** A view of [ptr, ptr+len) — throws EFAULT when it is not inside memory (subarray would clamp). */
  range(ptr: number, len: number): Uint8Array {
    const u8 = this.u8();
    ptr >>>= 0;
    len >>>= 0;
    if (ptr + len > u8.length) throw E.FAULT;
    return u8.subarray(ptr, ptr + len);
  }

  /** Throws EFAULT unless [ptr, ptr+len) is inside memory; allocates nothing. */
  check(ptr: number, len: number): void {
    if ((ptr >>> 0) + (len >>> 0) > this.u8().length) throw E.FAULT;
  }

  /** Read a UTF-8 string argument; invalid UTF-8 answers EILSEQ. */
  string(ptr: number, len: number): string {
    const view = this.range(ptr, len);
    try {
      return decoder.decode(this.shared ? view.slice() : view);
    } catch {
      throw E.ILSEQ;
    }
  }

  u32(ptr: number): number {
    return this.dv().getUint32(ptr >>> 0, true);
  }

  setU8(ptr: number, v: number): void {
    this.dv().setUint8(ptr >>> 0, v);
  }

  setU16(ptr: number, v: number): void {
    this.dv().setUint16(ptr >>> 0, v, true);
  }

  setU32(ptr: number, v: number): void {
    this.dv().setUint32(ptr >>> 0, v, true);
  }

  setU64(ptr: number, v: bigint | number): void {
    this.dv().setBigUint64(ptr >>> 0, typeof v === 'bigint' ? v : BigInt(v), true);
  }

  /**
   * Resolve an iovec array into views of guest memory, all checked before any byte moves so a
   * bad vector fails the whole call (EFAULT) instead of half-applying it.
   */
  iovecs(iovs: number, count: number): Uint8Array[] {
    iovs >>>= 0;
    count >>>= 0;
    const dv = this.dv();
    if (iovs + count * 8 > dv.byteLength) throw E.FAULT;
    const out = new Array<Uint8Array>(count);
    for (let i = 0; i < count; i++) {
      const p = iovs + i * 8;
      out[i] = this.range(dv.getUint32(p, true), dv.getUint32(p + 4, true));
    }
    return out;
  }
}

/** Copy `src` into guest iovecs; returns the number of bytes copied. */
export function scatter(dst: Uint8Array[], src: Uint8Array): number {
  let n = 0;
  for (const v of dst) {
    if (n >= src.length) break;
    const k = Math.min(v.length, src.length - n);
    v.set(src.subarray(n, n + k));
    n += k;
  }
  return n;
}

/** Total length of a list of views. */
export function totalLength(views: Uint8Array[]): number {
  let n = 0;
  for (const v of views) n += v.length;
  return n;
}
