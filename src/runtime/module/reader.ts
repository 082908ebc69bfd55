/**
 * A bounds-checked cursor over module bytes and the split of a module into its sections.
 * Offsets in errors are absolute offsets into the module, like those of wasm-objdump.
 */
import { InvalidModuleError, malformedAt } from './errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    public end: number,
  ) {}

  byte(): number {
    if (this.pos >= this.end) throw malformedAt(this.pos, 'unexpected end of section or function');
    return this.buf[this.pos++]!;
  }

  /** Unsigned LEB128 up to `maxBytes` long, as a Number (exact below 2^53). */
  uleb(maxBytes = 5): number {
    const at = this.pos;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < maxBytes; i++) {
      const b = this.byte();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw malformedAt(at, 'integer representation too long');
  }

  u32(): number {
    return this.uleb(5);
  }

  /** Signed LEB128 up to 33 bits (block types, heap types). */
  s33(): number {
    const at = this.pos;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      result += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) return b & 0x40 ? result - scale : result;
    }
    throw malformedAt(at, 'integer representation too long');
  }

  /** Skip one LEB128 of any width (immediates whose value the rewriter does not need). */
  skipLeb(): void {
    const at = this.pos;
    for (let i = 0; i < 10; i++) if ((this.byte() & 0x80) === 0) return;
    throw malformedAt(at, 'integer representation too long');
  }

  name(): string {
    const len = this.u32();
    const start = this.pos;
    if (start + len > this.end) throw malformedAt(start, 'name extends past the end of its section');
    this.pos += len;
    try {
      return utf8.decode(this.buf.subarray(start, start + len));
    } catch {
      throw malformedAt(start, 'name is not valid UTF-8');
    }
  }

  /** A value type: one byte, or (ref null? heaptype) with a heap type after 0x63 / 0x64. */
  valtype(): void {
    const t = this.byte();
    if (t === 0x63 || t === 0x64) this.s33();
  }

  skip(n: number): void {
    if (this.pos + n > this.end) throw malformedAt(this.pos, 'unexpected end of section or function');
    this.pos += n;
  }
}

export const enum SectionId {
  Custom = 0,
  Type = 1,
  Import = 2,
  Function = 3,
  Table = 4,
  Memory = 5,
  Global = 6,
  Export = 7,
  Start = 8,
  Element = 9,
  Code = 10,
  Data = 11,
  DataCount = 12,
  Tag = 13,
}

/** Position of each non-custom section in the required order (the tag section sits after memory). */
export const SECTION_ORDER: Record<number, number> = {
  1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13,
};

export const SECTION_NAMES = [
  'custom', 'type', 'import', 'function', 'table', 'memory', 'global',
  'export', 'start', 'element', 'code', 'data', 'data count', 'tag',
];

export interface Section {
  id: number;
  /** Offset of the id byte (start of the whole section, header included). */
  headerStart: number;
  /** Payload range. */
  start: number;
  end: number;
}

/** Check the preamble and split the module into sections (payloads are not decoded). */
export function splitSections(bytes: Uint8Array): Section[] {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new InvalidModuleError('not a WebAssembly module: missing the "\\0asm" magic number');
  }
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    throw new InvalidModuleError(
      `unsupported binary version ${bytes[4]},${bytes[5]},${bytes[6]},${bytes[7]} (expected a core module, version 1; components are not supported)`,
    );
  }
  const r = new Reader(bytes, 8, bytes.length);
  const sections: Section[] = [];
  while (r.pos < r.end) {
    const headerStart = r.pos;
    const id = r.byte();
    if (id > 13) throw malformedAt(headerStart, `unknown section id ${id}`);
    const size = r.u32();
    const start = r.pos;
    if (start + size > bytes.length) {
      throw malformedAt(headerStart, `${SECTION_NAMES[id]} section extends past the end of the module`);
    }
    sections.push({ id, headerStart, start, end: start + size });
    r.pos = start + size;
  }
  return sections;
}
