/**
 * Shared benchmark plumbing: the machine description, statistics, the table printer, the JSON
 * writer, and a generator for synthetic modules of a chosen size.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

/** One benchmark suite: measures, returns named figures (all from one run). */
export interface Suite {
  name: string;
  /** How the suite runs (mode, sizes), written next to the figures. */
  setup?: Record<string, unknown>;
  run(): Promise<Metric[]>;
}

export interface Metric {
  name: string;
  value: number;
  unit: string;
  /** The target, as text (e.g. "≤ 2"); informational, never asserted. */
  target?: string;
  note?: string;
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemoryMb: Math.round(os.totalmem() / 2 ** 20),
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
  };
}

/**
 * Tasks (or peer jobs) run on a fresh server before a throughput or latency phase is measured, so
 * the phase sees the steady state a long-running node is in. Measured with --trace-opt on the e2e
 * PostgreSQL phase: after a 1,000-task warm-up V8 still spent 1.3 s of TurboFan compile time in the
 * next 5,000 tasks and 0.35 s in the 5,000 after, then 50-160 ms per 5,000; at 1,000 the
 * measured CPU per task carried ~20 µs of one-off compilation.
 *
 * A latency phase also sends WARM_UP_TASKS single submits (enqueues), one at a time, first: its
 * one-task requests take a path the batches never do (on Spindle, an idle node inserts the task
 * already claimed and run). Measured on the e2e PostgreSQL server after the batch warm-up alone:
 * sequential one-task submits cost 3.8 ms of server CPU each in their first 1,000 and 1.4 ms
 * after 7,000; at 200/s its main thread spent 2.4 ms per task without them, 1.6 ms with them.
 */
export const WARM_UP_TASKS = 10_000;

export const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);

/** Nearest-rank percentile of an ascending array. */
export function percentile(ascending: number[], p: number): number {
  if (ascending.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * ascending.length);
  return ascending[Math.min(ascending.length, Math.max(1, rank)) - 1]!;
}

export const median = (xs: number[]): number => percentile(sorted(xs), 50);

export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('bench: condition not reached in time');
    await sleep(2);
  }
}

export function printTable(title: string, metrics: Metric[]): void {
  const rows = metrics.map((m) => [m.name, String(round(m.value)), m.unit, m.target ?? '', m.note ?? '']);
  const head = ['metric', 'value', 'unit', 'target', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  console.log(`\n${title}`);
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

export function writeResults(suite: string, metrics: Metric[], extra: Record<string, unknown> = {}): string {
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}${suite}.json`;
  const figures = Object.fromEntries(metrics.map((m) => [m.name, { value: round(m.value), unit: m.unit, target: m.target, note: m.note }]));
  writeFileSync(file, `${JSON.stringify({ suite, machine: machine(), ...extra, figures }, null, 2)}\n`);
  return file;
}

// --- synthetic modules ------------------------------------------------------------------------

const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
};
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const name = (s: string): number[] => vec([...Buffer.from(s)].map((b) => [b]));

/**
 * A valid WASI command of roughly `targetBytes`: one memory, `_start` (returns at once) and
 * many functions `(i32) -> i32` with straight-line arithmetic, a loop and loads/stores, so
 * compilation, our rewrite and fuel instrumentation all have real code to chew on. `salt`
 * changes one constant, giving a distinct digest per call. Built by copying one encoded body
 * into a preallocated buffer: the generator's own garbage must not land (as GC pauses) in the
 * compile times measured right after it.
 */
export function syntheticModule(targetBytes: number, salt = 0): Uint8Array {
  const body: number[] = [0x01, 0x01, 0x7f]; // one local i32
  body.push(0x03, 0x40); // loop
  for (let i = 0; i < 24; i++) {
    body.push(0x20, 0x00, 0x41, ...sleb(i * 7 + 1), 0x6a); // local.get 0  i32.const k  i32.add
    body.push(0x21, 0x01, 0x20, 0x01, 0x41, ...sleb(3), 0x6c, 0x21, 0x00); // local.set 1, x = l1 * 3
  }
  body.push(0x41, 0x00, 0x20, 0x00, 0x36, 0x02, 0x00); // i32.store (0, x)
  body.push(0x20, 0x00, 0x41, 0x00, 0x48, 0x0d, 0x00); // br_if 0 (x < 0)
  body.push(0x0b); // end loop
  body.push(0x41, 0x00, 0x28, 0x02, 0x00, 0x0b); // i32.load 0, end
  const entry = Uint8Array.from([...leb(body.length), ...body]);
  const count = Math.max(1, Math.floor(targetBytes / (body.length + 2)));
  const saltedStart = [0x00, 0x41, ...sleb(salt), 0x1a, 0x0b]; // i32.const salt  drop  end

  const types = section(1, vec([[0x60, 0x00, 0x00], [0x60, 0x01, 0x7f, 0x01, 0x7f]]));
  const funcs = [3, ...leb(leb(count + 1).length + count + 1), ...leb(count + 1), 0x00];
  const memory = section(5, vec([[0x00, 0x01]]));
  const exports = section(7, vec([[...name('_start'), 0x00, 0x00], [...name('memory'), 0x02, 0x00]]));
  const start = [...leb(saltedStart.length), ...saltedStart];
  const codeSize = leb(count + 1).length + start.length + count * entry.length;
  const head = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...funcs];
  const mid = [...memory, ...exports, 10, ...leb(codeSize), ...leb(count + 1), ...start];
  const out = new Uint8Array(head.length + count + mid.length + count * entry.length);
  out.set(head, 0);
  out.fill(0x01, head.length, head.length + count); // every function has type 1
  let at = head.length + count;
  out.set(mid, at);
  at += mid.length;
  for (let i = 0; i < count; i++, at += entry.length) out.set(entry, at);
  return out;
}
