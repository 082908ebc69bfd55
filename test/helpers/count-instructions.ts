/**
 * The fuel oracle: counts executed instructions by a route that shares nothing with the metering
 * rewrite (src/runtime/module/meter.ts, fuel.ts). wabt disassembles the module to flat text, one
 * instruction per line; before every instruction except the structure markers a counter
 * increment (`global.get; i64.const 1; i64.add; global.set`, stack-neutral, so valid anywhere,
 * dead code included) is spliced in; wabt assembles the result. Run it unmetered (prepareModule
 * without fuel only moves the memory into the imports and wraps memory.grow), set
 * `__oracle_count` to 0 after instantiation (the start function is not metered either), and
 * after the run it holds the number of instructions the guest executed.
 */
import wabtInit from 'wabt';
import { makeWasiHost, ProcExit } from '../../src/runtime/wasi/index.js';
import { prepareModule } from '../../src/runtime/module/index.js';
import type { FileEntry } from '../../src/domain/index.js';

const FEATURES = { bulk_memory: true, sign_extension: true, mutable_globals: true, sat_float_to_int: true, multi_value: true, tail_call: true, exceptions: true };

/** Free in the fuel model: block, loop, else, end, nop and the exception-handling markers. */
const MARKERS = new Set(['block', 'loop', 'else', 'end', 'nop', 'try', 'catch', 'catch_all', 'delegate', 'try_table']);
const COUNTER = '__oracle_count';

let wabt: Awaited<ReturnType<typeof wabtInit>> | undefined;

/** `bytes` with a counter increment before every executed instruction, exported as `__oracle_count`. */
export async function countingModule(bytes: Uint8Array): Promise<Uint8Array> {
  wabt ??= await wabtInit();
  const m = wabt.readWasm(bytes, { readDebugNames: false, ...FEATURES });
  const text = m.toText({ foldExprs: false, inlineExport: false });
  m.destroy();
  const bump = `global.get $${COUNTER} i64.const 1 i64.add global.set $${COUNTER} `;
  const body = text
    .split('\n')
    .map((line) => {
      // Instructions are the lines that start with a keyword; module fields start with "(".
      const op = /^\s*([a-z][a-z0-9_.]*)/.exec(line)?.[1];
      return op === undefined || MARKERS.has(op) ? line : line.replace(op, bump + op);
    })
    .join('\n')
    .trimEnd();
  // The module's closing paren is the text's last character: the counter goes inside it.
  const src = `${body.slice(0, -1)}\n  (global $${COUNTER} (export "${COUNTER}") (mut i64) (i64.const 0)))`;
  const parsed = wabt.parseWat('counting.wat', src, FEATURES);
  try {
    parsed.validate();
    return new Uint8Array(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}

export interface GuestRun {
  args?: string[];
  stdin?: Uint8Array;
  files?: FileEntry[];
}

export interface Ran {
  /** How `_start` ended: 'returned', `exit N`, or the trap message. */
  end: string;
  stdout: Uint8Array;
  /** The fuel global's drop (`meter: 'fuel'` or `'shared'`) or the oracle's count (`meter: 'oracle'`). */
  count: bigint;
}

/**
 * Run `bytes` on this thread with the service's WASI host: rewritten with fuel (`count` is
 * `fuelUsed`), or as a counting module without fuel (`count` is the oracle's).
 */
export function runCounted(bytes: Uint8Array, meter: 'fuel' | 'shared' | 'oracle', run: GuestRun = {}): Ran {
  const prepared = prepareModule(bytes, { fuel: meter !== 'oracle', sharedFuel: meter === 'shared' });
  const host = makeWasiHost({
    args: ['main.wasm', ...(run.args ?? [])],
    env: {},
    stdin: run.stdin ?? new Uint8Array(0),
    files: run.files ?? [],
    maxOutputBytes: 1 << 20,
    hardOutputBytes: 1 << 24,
    deterministic: { seed: 1, epochMs: 0 },
  });
  const imports = host.imports;
  if (prepared.memory) {
    const { initialPages, maximumPages } = prepared.memory;
    const memory = new WebAssembly.Memory({ initial: initialPages, maximum: maximumPages ?? 65536 });
    host.setMemory(memory);
    imports.spindle = { memory };
  }
  const budget = 1n << 62n;
  // 'shared': the budget is a global the module imports (sharedFuel), set before instantiation.
  const shared = meter === 'shared' ? new WebAssembly.Global({ value: 'i64', mutable: true }, budget) : null;
  if (shared) imports.spindle = { ...imports.spindle, fuel: shared };
  const instance = new WebAssembly.Instance(new WebAssembly.Module(prepared.bytes), imports);
  const global = shared ?? (instance.exports[meter === 'fuel' ? prepared.exports.fuel! : COUNTER] as WebAssembly.Global);
  if (!shared) global.value = meter === 'fuel' ? budget : 0n;
  let end = 'returned';
  try {
    (instance.exports._start as () => void)();
  } catch (e) {
    end = e instanceof ProcExit ? `exit ${e.code}` : String(e);
  }
  const value = global.value as bigint;
  const out = host.result();
  host.dispose();
  return { end, stdout: out.stdout, count: meter === 'oracle' ? value : budget - value };
}
