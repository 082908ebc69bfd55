/**
 * LEB128 and a growable byte writer. The rewriter copies most of a module verbatim, so the writer
 * is built around `copy` (one `TypedArray.set` per unchanged run) rather than per-byte pushes.
 */

export class Writer {
  buf: Uint8Array;
  len = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }

  private ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): this {
    this.ensure(1);
    this.buf[this.len++] = b;
    return this;
  }

  /** Unsigned LEB128 of a non-negative integer below 2^32. */
  u32(v: number): this {
    this.ensure(5);
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.buf[this.len++] = b;
    } while (v !== 0);
    return this;
  }

  /** Signed LEB128 of any 64-bit value. */
  s64(value: bigint): this {
    this.ensure(10);
    let v = BigInt.asIntN(64, value);
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      const done = (v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0);
      this.buf[this.len++] = done ? b : b | 0x80;
      if (done) return this;
    }
  }

  /** A name: LEB length then UTF-8. */
  name(s: string): this {
    const utf8 = new TextEncoder().encode(s);
    return this.u32(utf8.length).copy(utf8, 0, utf8.length);
  }

  copy(src: Uint8Array, start: number, end: number): this {
    const n = end - start;
    if (n <= 0) return this;
    this.ensure(n);
    const buf = this.buf;
    if (n < 64) {
      // Short runs are common (between rewrite points); a loop beats allocating a subarray view.
      let at = this.len;
      for (let i = start; i < end; i++) buf[at++] = src[i]!;
    } else {
      buf.set(src.subarray(start, end), this.len);
    }
    this.len += n;
    return this;
  }

  /** Append another writer's contents. */
  append(w: Writer): this {
    return this.copy(w.buf, 0, w.len);
  }

  /**
   * Reserve a 5-byte padded LEB128 to be filled in later with `patch5`. Non-minimal LEBs are
   * valid wherever the spec allows up to ceil(N/7) bytes, so a value below 2^34 fits both as
   * u32 (below 2^32) and as s64.
   */
  reserve5(): number {
    this.ensure(5);
    const at = this.len;
    this.len += 5;
    return at;
  }

  patch5(at: number, v: number): void {
    for (let i = 0; i < 4; i++) {
      this.buf[at + i] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[at + 4] = v & 0x7f;
  }

  reset(): this {
    this.len = 0;
    return this;
  }

  toBytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/**
 * A source buffer copied into a Writer with insertions: `upTo(at)` copies what is pending before
 * `at` and returns the writer, so the caller can append what goes there.
 */
export class Splice {
  constructor(
    readonly src: Uint8Array,
    readonly w: Writer,
    /** Start of the source bytes not yet copied. */
    public from: number,
  ) {}

  upTo(at: number): Writer {
    this.w.copy(this.src, this.from, at);
    this.from = at;
    return this.w;
  }
}

/** Length in bytes of `v` as unsigned LEB128. */
export function u32Size(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}
