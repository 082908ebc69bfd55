/** What every import function closes over: one per task, built by makeWasiHost. */
import type { Clock } from './clock.js';
import type { FdTable } from './fds.js';
import type { GuestMemory } from './memory.js';
import { encoder } from './memory.js';
import type { Output } from './output.js';
import type { RandomSource } from './random.js';

export interface State {
  readonly mem: GuestMemory;
  readonly fds: FdTable;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly out: Output;
  readonly stdin: Uint8Array;
  stdinPos: number;
  readonly argv: Lazy<StringTable>;
  readonly environ: Lazy<StringTable>;
}

/** NUL-terminated strings laid out back to back, as args_get/environ_get hand them over. */
export interface StringTable {
  count: number;
  bytes: Uint8Array;
  offsets: number[];
}

export type Lazy<T> = () => T;

/** Encoded on first use with one TextEncoder call: most hot tasks ask only for sizes once. */
export function lazyStrings(list: () => string[]): Lazy<StringTable> {
  let table: StringTable | null = null;
  return () => {
    if (table !== null) return table;
    const items = list();
    const bytes = encoder.encode(items.length === 0 ? '' : items.join('\0') + '\0');
    const offsets: number[] = [];
    for (let i = 0, off = 0; i < items.length; i++) {
      offsets.push(off);
      off += Buffer.byteLength(items[i]!) + 1;
    }
    return (table = { count: items.length, bytes, offsets });
  };
}
