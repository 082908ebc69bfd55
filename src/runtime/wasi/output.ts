/**
 * stdout/stderr capture with two caps. Each stream keeps at most `maxBytes` (the rest is dropped
 * and the stream flagged truncated); across both streams the guest may *try* to write at most
 * `hardBytes`, past which the write throws OutputLimitExceeded and the run ends (output_limit).
 * The soft cap keeps results small, the hard cap stops a guest that floods forever.
 */
import { OutputLimitExceeded } from './errno.js';

export type StreamName = 'stdout' | 'stderr';

class Capture {
  buf: Uint8Array | null = null;
  len = 0;
  truncated = false;
}

export class Output {
  private readonly streams: Record<StreamName, Capture> = { stdout: new Capture(), stderr: new Capture() };
  private attempted = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly hardBytes: number,
    private readonly onOutput?: (stream: StreamName, buf: Uint8Array, start: number, end: number) => void,
  ) {}

  /** Write the gathered views; returns the byte count the guest is told was written. */
  write(stream: StreamName, views: Uint8Array[]): number {
    let n = 0;
    for (const v of views) n += v.length;
    const cap = this.streams[stream];
    const room = this.maxBytes - cap.len;
    if (n > 0) {
      const keep = Math.min(n, Math.max(room, 0));
      if (keep > 0) this.keep(stream, cap, views, keep);
      if (keep < n) cap.truncated = true;
    }
    this.attempted += n;
    // Checked after keeping what fits, so the output right up to the flood is still visible.
    if (this.attempted > this.hardBytes) throw new OutputLimitExceeded(this.hardBytes);
    return n;
  }

  private keep(stream: StreamName, cap: Capture, views: Uint8Array[], keep: number): void {
    const start = cap.len;
    const need = start + keep;
    if (cap.buf === null || cap.buf.length < need) {
      // The first write gets an exact fit (most tasks write once); later growth doubles to
      // amortise many small writes, but never past the cap.
      const size = cap.buf === null ? need : Math.min(this.maxBytes, Math.max(need, 256, cap.buf.length * 2));
      const grown = new Uint8Array(size);
      if (cap.buf !== null) grown.set(cap.buf.subarray(0, start));
      cap.buf = grown;
    }
    let left = keep;
    for (const v of views) {
      if (left === 0) break;
      const k = Math.min(v.length, left);
      cap.buf.set(k === v.length ? v : v.subarray(0, k), cap.len);
      cap.len += k;
      left -= k;
    }
    // A range of the capture, valid during the call only: the listener copies what it keeps (the
    // worker's goes straight into shared memory, see src/runtime/live.ts). No view is made here:
    // making one costs more than copying a line.
    this.onOutput?.(stream, cap.buf, start, cap.len);
  }

  result(stream: StreamName): { bytes: Uint8Array; truncated: boolean } {
    const cap = this.streams[stream];
    // An exact fit is handed over as is: the host is finished once result() is called.
    const bytes = cap.buf === null ? new Uint8Array(0) : cap.buf.length === cap.len ? cap.buf : cap.buf.slice(0, cap.len);
    return { bytes, truncated: cap.truncated };
  }
}
