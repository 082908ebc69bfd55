/**
 * Live output: a shared-memory area per worker through which a running guest's stdout and stderr
 * leave the worker thread the moment they are written, without a message and without the guest
 * returning to the host again.
 *
 * Why: a worker is pre-empted by terminating it (RATIONALE: pre-emption), and a guest that prints
 * and then computes never calls the host again, so output batched inside the worker died with
 * it. Here the worker's fd_write copies the kept bytes into this buffer synchronously; the pool
 * reads it on a timer while runs with a listener are live (Pool.poll) and once more when it
 * terminates the worker or the worker dies, so a killed run keeps everything written up to the
 * cap.
 *
 * Layout: a header of Int32s (the job's seq, per stream a generation and a length, the guest's
 * memory in pages) and one STAGE_BYTES area per stream. Byte `i` of area `s` in generation `g` is
 * byte `g * STAGE_BYTES + i` of the job's stream. When an area is full the worker posts it whole
 * (tagged with seq, stream and generation) over the output port and starts the next generation,
 * so memory stays bounded whatever the cap; the pool merges both sources by offset (job.ts
 * `received`), which drops what it already has.
 *
 * Reading is a seqlock: the pool loads seq, generation and length, copies, and keeps the copy
 * only if seq and generation are unchanged (the worker resets the length before it moves to a
 * new generation or job and writes new bytes only after that). Atomics are sequentially
 * consistent; the plain byte copy relies on stores not being reordered past them, which holds on
 * the x86-64 and arm64 code V8 emits for Atomics.store/load.
 */
import type { MessagePort } from 'node:worker_threads';

/** Bytes kept per stream before the worker posts them (the old flush size: floods stay batched). */
export const STAGE_BYTES = 64 * 1024;
const SEQ = 0;
const GEN = [1, 3] as const; // stdout, stderr
const LEN = [2, 4] as const;
const PAGES = 5;
const HEADER_BYTES = 8 * 4;
export const LIVE_BYTES = HEADER_BYTES + 2 * STAGE_BYTES;

type Stream = 'stdout' | 'stderr';
const index = (stream: Stream): 0 | 1 => (stream === 'stdout' ? 0 : 1);

/** A full area, posted by the worker: bytes `gen * STAGE_BYTES` onwards of the job's stream. */
export interface StageMessage {
  seq: number;
  stream: Stream;
  gen: number;
  data: Uint8Array;
}

/** Views over one live-output buffer; the worker writes, the pool reads. */
export class LiveOutput {
  private readonly hdr: Int32Array;
  private readonly u8: Uint8Array;
  /** Worker side: the current job's generations, lengths and memory (mirrors of the header). */
  private seq = 0;
  private readonly gen = [0, 0];
  private readonly len = [0, 0];
  private memory: WebAssembly.Memory | null = null;
  private pages = 0;

  constructor(
    readonly sab: SharedArrayBuffer,
    /** Worker side: where full areas go (the pool's end is read by Pool). */
    private readonly port: MessagePort | null = null,
  ) {
    this.hdr = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.u8 = new Uint8Array(sab);
  }

  static create(): LiveOutput {
    return new LiveOutput(new SharedArrayBuffer(LIVE_BYTES));
  }

  // --- worker side -----------------------------------------------------------------------------

  /**
   * A new job starts: empty areas, then its seq (readers check the seq last), then its memory.
   * Only what changed is stored: these stores are on every task's path.
   */
  begin(seq: number, memory: WebAssembly.Memory | null): void {
    const h = this.hdr;
    this.seq = seq;
    this.memory = memory;
    for (let s = 0; s < 2; s++) {
      if (this.len[s] !== 0) Atomics.store(h, LEN[s]!, (this.len[s] = 0));
      if (this.gen[s] !== 0) Atomics.store(h, GEN[s]!, (this.gen[s] = 0));
    }
    Atomics.store(h, SEQ, seq);
    this.storePages();
  }

  /**
   * The WASI host's listener: bytes `start` to `end` of `buf` (valid only during the call) go
   * into the stream's area; a full area is posted on the port and the next generation begins.
   */
  readonly write = (stream: Stream, buf: Uint8Array, start: number, end: number): void => {
    const s = index(stream);
    const h = this.hdr;
    const u8 = this.u8;
    const at = HEADER_BYTES + s * STAGE_BYTES;
    let len = this.len[s]!;
    while (start < end) {
      const n = Math.min(STAGE_BYTES - len, end - start);
      // A short line byte by byte: TypedArray#set and #subarray cost ~0.1 µs each in Node
      // (Buffer disables V8's fast path for typed-array species).
      if (n <= 64) for (let i = 0; i < n; i++) u8[at + len + i] = buf[start + i]!;
      else u8.set(buf.subarray(start, start + n), at + len);
      start += n;
      len += n;
      Atomics.store(h, LEN[s], len);
      if (len === STAGE_BYTES) {
        const gen = this.gen[s]!;
        const msg: StageMessage = { seq: this.seq, stream, gen, data: u8.slice(at, at + STAGE_BYTES) };
        // Posted before the area is reused: a reader that finds a later generation takes the
        // message off the port first (job.ts collectOutput).
        this.port!.postMessage(msg, [msg.data.buffer as ArrayBuffer]);
        len = 0;
        Atomics.store(h, LEN[s], 0);
        this.gen[s] = gen + 1;
        Atomics.store(h, GEN[s], gen + 1);
      }
    }
    this.len[s] = len;
    this.storePages();
  };

  /** The guest's memory size, for the outcome of a run that is then killed. */
  private storePages(): void {
    const pages = this.memory === null ? 0 : this.memory.buffer.byteLength / 65536;
    if (pages !== this.pages) Atomics.store(this.hdr, PAGES, (this.pages = pages));
  }

  // --- pool side -------------------------------------------------------------------------------

  /** Memory of job `seq`'s guest when it last wrote, in bytes (-1 once another job runs). */
  memoryBytes(seq: number): number {
    const pages = Atomics.load(this.hdr, PAGES); // stored after the seq (begin): read before it
    return (Atomics.load(this.hdr, SEQ) >>> 0) === seq ? pages * 65536 : -1;
  }

  /**
   * What job `seq` wrote to `stream` from byte `from` on, as far as the area holds it: the bytes
   * (a private copy), null when there is nothing new or the job is not (or no longer) the one
   * running, or 'gap' when bytes before the area's generation are still on the output port.
   */
  read(seq: number, stream: Stream, from: number): Uint8Array | null | 'gap' {
    const h = this.hdr;
    const s = index(stream);
    if ((Atomics.load(h, SEQ) >>> 0) !== seq) return null;
    const gen = Atomics.load(h, GEN[s]);
    const len = Atomics.load(h, LEN[s]);
    const base = gen * STAGE_BYTES;
    if (from < base) return 'gap';
    if (from >= base + len) return null;
    const at = HEADER_BYTES + s * STAGE_BYTES;
    const bytes = this.u8.slice(at + from - base, at + len);
    // Unchanged generation and job: no byte of the copy was rewritten meanwhile.
    if (Atomics.load(h, GEN[s]) !== gen || (Atomics.load(h, SEQ) >>> 0) !== seq) return null;
    return bytes;
  }
}
