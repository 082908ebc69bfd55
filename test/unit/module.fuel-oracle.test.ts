/**
 * fuelUsed against an oracle that shares nothing with the metering rewrite: the same module with
 * a counter increment spliced (by wabt, as text) before every instruction that is not a
 * structure marker (test/helpers/count-instructions.ts). A run that ends by returning or exiting
 * must use exactly the fuel the oracle counts; a trap may be charged the rest of its basic block.
 */
import { describe, expect, it } from 'vitest';
import { countingModule, runCounted, type GuestRun } from '../helpers/count-instructions.js';
import { loadWasm, loadWat, watToWasm } from '../helpers/fixtures.js';

const bytes = (text: string) => new TextEncoder().encode(text);

/** Also checks that the budget as an imported global (sharedFuel: defined globals renumbered) counts the same. */
async function compare(wasm: Uint8Array, run: GuestRun = {}) {
  const fuel = runCounted(wasm, 'fuel', run);
  const oracle = runCounted(await countingModule(wasm), 'oracle', run);
  expect(fuel.end).toBe(oracle.end);
  expect(fuel.stdout).toEqual(oracle.stdout);
  const shared = runCounted(wasm, 'shared', run);
  expect({ end: shared.end, stdout: shared.stdout, count: shared.count }).toEqual({ end: fuel.end, stdout: fuel.stdout, count: fuel.count });
  return { fuel: fuel.count, oracle: oracle.count, end: fuel.end };
}

/** The issue's example: N passes of ~10 instructions beside an arm of 2,000 that never runs. */
function coldArm(n: number): string {
  const cold = '(drop (i32.add (i32.const 1) (i32.const 2)))\n'.repeat(500);
  return `(module (memory 1)
    (func (export "_start") (local $i i32)
      (loop $l
        (if (i32.eq (local.get $i) (i32.const -1)) (then ${cold}))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const ${n}))))))`;
}

/** Control flow of every shape the rewrite distinguishes, driven by a loop over 0..299. */
const ZOO = `(module
  (type $pair (func (param i32) (result i32 i32)))
  (table 2 funcref) (elem (i32.const 0) $even $odd)
  (memory 1)
  (func $even (param i32) (result i32) (i32.eqz (i32.and (local.get 0) (i32.const 1))))
  (func $odd (param i32) (result i32) (i32.and (local.get 0) (i32.const 1)))
  (func $tail (param i32) (result i32)
    (if (i32.gt_u (local.get 0) (i32.const 3)) (then (return_call $tail (i32.sub (local.get 0) (i32.const 3)))))
    (local.get 0))
  (func $split (type $pair) (local.get 0) (i32.shr_u (local.get 0) (i32.const 1)))
  (func $step (param $x i32) (result i32) (local $acc i32)
    (block $done
      (block $three (block $two (block $one (block $zero
        (br_table $zero $one $two $three $done (i32.rem_u (local.get $x) (i32.const 5))))
        (local.set $acc (i32.const 10)) (br $done) (drop (i32.const 0)))
        (local.set $acc (call_indirect (param i32) (result i32) (local.get $x) (i32.and (local.get $x) (i32.const 1)))))
        (br_if $done (i32.eqz (local.get $acc)))
        (local.set $acc (i32.add (local.get $acc) (i32.const 100))))
      (loop $count
        (local.set $acc (i32.add (local.get $acc) (i32.const 1)))
        (br_if $done (i32.gt_u (local.get $acc) (i32.const 7)))
        (if (i32.and (local.get $acc) (i32.const 1)) (then (br $count)))
        (br_if $count (i32.lt_u (local.get $acc) (i32.const 5)))
        (return (local.get $acc))
        (unreachable)))
    (block (result i32 i32) (call $split (local.get $x)))
    (i32.add)
    (local.get $acc)
    (if (result i32) (then (call $tail (local.get $x))) (else (i32.const 3)))
    (i32.add))
  (func (export "_start") (local $i i32) (local $sum i32)
    (loop $l
      (local.set $sum (i32.add (local.get $sum) (call $step (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 300))))
    (i32.store (i32.const 0) (local.get $sum))))`;

const INTERP_PROGRAM = `n = 1; total = 0; longest = 0;
while (n <= 200) {
  x = n; steps = 0;
  while (x != 1) { if (x % 2 == 0) x = x / 2; else x = 3 * x + 1; steps = steps + 1; }
  if (steps > longest && !(n < 0) || 0) { longest = steps; best = n; }
  total = total + steps; n = n + 1;
}
print total; print best; print longest;`;

/**
 * A random structured program from `seed`: nested blocks, loops, ifs with and without else,
 * br/br_if/br_table to enclosing blocks, returns and branches out of the function, calls, and
 * dead code after unconditional branches, run on 8 inputs. Every loop pass spends one of 300
 * shared steps and leaves when they are gone.
 */
function randomProgram(seed: number): string {
  let x = seed >>> 0 || 1;
  const rnd = (n: number) => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) % n);
  const cond = () => `(i32.and (local.get $v) (i32.const ${1 + rnd(7)}))`;
  const work = () => `(local.set $v (i32.add (i32.mul (local.get $v) (i32.const 31)) (i32.const ${rnd(100)})))`;
  let label = 0;
  /** `labels`: how many labels enclose the statements (the function's own is that deep). */
  const stmts = (depth: number, blocks: string[], labels: number): string => {
    const out: string[] = [];
    for (let n = depth === 0 ? 4 + rnd(6) : 1 + rnd(4); n > 0; n--) {
      const pick = depth > 3 ? rnd(4) : rnd(11);
      const target = blocks.length > 0 ? blocks[rnd(blocks.length)] : null;
      if (pick <= 1) out.push(work());
      else if (pick === 2) out.push(`(drop (call $leaf (local.get $v)))`);
      else if (pick === 3 && target) out.push(`(br_if ${target} ${cond()})`);
      else if (pick === 4) out.push(`(if ${cond()} (then ${stmts(depth + 1, blocks, labels + 1)})${rnd(2) ? ` (else ${stmts(depth + 1, blocks, labels + 1)})` : ''})`);
      else if (pick === 5) {
        const b = `$b${label++}`;
        out.push(`(block ${b} ${stmts(depth + 1, [...blocks, b], labels + 1)})`);
      } else if (pick === 6) {
        const e = `$e${label++}`;
        const l = `$l${label++}`;
        const inner = [...blocks, e];
        out.push(`(block ${e} (loop ${l} (br_if ${e} (i32.le_s (global.get $steps) (i32.const 0)))
          (global.set $steps (i32.sub (global.get $steps) (i32.const 1)))
          ${stmts(depth + 1, inner, labels + 2)} (br_if ${l} ${cond()}) ${stmts(depth + 1, inner, labels + 2)}))`);
      } else if (pick === 7 && target) out.push(`(br ${target}) ${stmts(depth + 1, blocks, labels)} (unreachable)`); // dead after br
      else if (pick === 8 && blocks.length > 1) {
        out.push(`(br_table ${Array.from({ length: 1 + rnd(3) }, () => blocks[rnd(blocks.length)]).join(' ')} (i32.and (local.get $v) (i32.const 3)))`);
      } else if (pick === 9 && rnd(3) === 0) out.push(rnd(2) ? `(if ${cond()} (then (return)))` : `(br_if ${labels} ${cond()})`); // out of the function
      else out.push(work());
    }
    return out.join('\n');
  };
  const body = stmts(0, [], 0);
  return `(module (global $steps (mut i32) (i32.const 300))
    (func $leaf (param i32) (result i32) (if (result i32) (i32.and (local.get 0) (i32.const 1)) (then (i32.const 1)) (else (i32.const 2))))
    (func $main (param $v i32) ${body})
    (func (export "_start") ${Array.from({ length: 8 }, () => `(call $main (i32.const ${rnd(1000)}))`).join(' ')}))`;
}

describe('fuel against an independent instruction count', () => {
  const watRuns: [string, GuestRun][] = [
    ['hello', {}],
    ['count_loop', {}],
    ['exit_code', { args: ['42'] }],
    ['echo_stdin', { stdin: bytes('hello, fuel') }],
    ['write_n', { args: ['5000', '3000'] }],
    ['grow', {}],
    ['print_args_env', { args: ['a', 'b'] }],
    ['file_writer', {}],
    ['file_reader', { files: [{ path: 'input.txt', bytes: bytes('read me') }] }],
    ['random_clock', {}],
  ];
  it.each(watRuns)('WAT fixture %s: exactly the count', async (name, run) => {
    const r = await compare(await loadWat(name), run);
    expect(r.fuel).toBe(r.oracle);
  });

  it.each([
    ['sha256sum', { stdin: new Uint8Array(16 * 1024).map((_, i) => i * 31) }],
    ['copy', { args: ['in', 'out'], files: [{ path: 'in', bytes: new Uint8Array(40_000).fill(5) }] }],
    ['interp', { stdin: bytes(INTERP_PROGRAM) }],
  ] as [string, GuestRun][])('C fixture %s: exactly the count', async (name, run) => {
    const r = await compare(await loadWasm(name), run);
    expect(r.end).toMatch(/^(returned|exit 0)$/);
    expect(r.oracle).toBeGreaterThan(10_000n);
    expect(r.fuel).toBe(r.oracle);
  });

  it('every control-flow shape: br_table, dead code, br_if exits, multi-value blocks, tail calls', async () => {
    const r = await compare(await watToWasm(ZOO));
    expect(r.fuel).toBe(r.oracle);
  });

  it('200 random structured programs: exactly the count', async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const r = await compare(await watToWasm(randomProgram(seed)));
      expect({ seed, fuel: r.fuel }).toEqual({ seed, fuel: r.oracle });
    }
  });

  it('exceptions (try, catch, catch_all, rethrow, a throw through a frame without a handler): exactly the count', async () => {
    const r = await compare(await watToWasm(`(module (tag $e (param i32)) (global $g (mut i32) (i32.const 0))
      (func $thrower (param i32)
        (if (i32.and (local.get 0) (i32.const 1)) (then (throw $e (local.get 0))))
        (global.set $g (i32.add (global.get $g) (i32.const 1))))
      (func $through (param i32) (call $thrower (local.get 0)) (global.set $g (i32.add (global.get $g) (i32.const 5))))
      (func $rethrows (param i32)
        (try (do (call $through (local.get 0))) (catch_all (global.set $g (i32.const 7)) (rethrow 0))))
      (func (export "_start") (local $i i32)
        (loop $l
          (try (do (call $rethrows (local.get $i)) (global.set $g (i32.add (global.get $g) (i32.const 2))))
            (catch $e (drop) (global.set $g (i32.add (global.get $g) (i32.const 3)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))))`));
    expect(r.fuel).toBe(r.oracle);
  });

  it('the issue example: 10^6 passes beside a cold 2,000-instruction arm cost ~10 each, not ~2,010', async () => {
    const r = await compare(await watToWasm(coldArm(1_000_000)));
    expect(r.fuel).toBe(r.oracle);
    expect(r.fuel).toBe(12n * 1_000_000n); // local.get i32.const i32.eq if · 4 for the increment · 4 for the test
  });

  // The global is written at entries, loop headers, calls and exits; a trap between those loses
  // what the innermost function charged since (its checkpoints keep the count in a local).
  it.each(['div_zero', 'int_overflow', 'invalid_conversion', 'memory_oob', 'table_oob', 'indirect_call_mismatch', 'unreachable'])(
    'trapping fixture %s: within the trapping stretch of the count',
    async (name) => {
      const r = await compare(await loadWat(name));
      expect(r.end).toMatch(/RuntimeError/);
      expect(r.fuel - r.oracle).toBeGreaterThan(-20n);
      expect(r.fuel - r.oracle).toBeLessThan(20n);
    },
  );

  it('a trap after a long loop and branches keeps the loop\'s count', async () => {
    const r = await compare(await watToWasm(`(module (memory 1)
      (func (export "_start") (local $i i32)
        (loop $l
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 100000))))
        (if (i32.eq (local.get $i) (i32.const 100000)) (then (local.set $i (i32.const 0))))
        (drop (i32.div_u (i32.const 1) (local.get $i)))))`));
    expect(r.end).toMatch(/divide by zero/);
    expect(r.oracle).toBeGreaterThan(600_000n);
    expect(r.fuel - r.oracle).toBeGreaterThan(-20n);
    expect(r.fuel - r.oracle).toBeLessThan(20n);
  });
});
