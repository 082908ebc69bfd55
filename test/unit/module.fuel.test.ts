import wabtInit from 'wabt';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUEL_UNSET, prepareModule } from '../../src/runtime/module/index.js';

// The project's TypeScript lib carries no WebAssembly declarations.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const WA: any = (globalThis as any).WebAssembly;

let wabt: Awaited<ReturnType<typeof wabtInit>>;
beforeAll(async () => {
  wabt = await wabtInit();
});

/** Compile WAT, rewrite it with fuel and instantiate it the way the worker pool does. */
function metered(src: string) {
  const m = wabt.parseWat('test.wat', src, { tail_call: true });
  const prepared = prepareModule(new Uint8Array(m.toBinary({}).buffer), { fuel: true });
  m.destroy();
  expect(prepared.exports.fuel).toBe('__spindle_fuel');
  const module = new WA.Module(prepared.bytes);
  const mem = prepared.memory;
  return () => {
    const memory = mem && new WA.Memory({ initial: mem.initialPages, maximum: mem.maximumPages ?? undefined });
    return new WA.Instance(module, { spindle: { memory } }).exports;
  };
}

/** Run `fn` with `budget` and return the fuel it used (budget − remaining), or the trap. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function used(exports: any, budget: bigint, fn: () => unknown): bigint {
  exports.__spindle_fuel.value = budget;
  fn();
  return budget - exports.__spindle_fuel.value;
}

const SPIN = `(module
  (func (export "spin") (param $n i32)
    (loop $l
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n))))
  (func (export "forever") (loop $l (br $l)))
  (func (export "boom") unreachable)
  (func (export "_start")))`;

describe('fuel', () => {
  it('charges a straight-line function its instruction count', () => {
    const exports = metered('(module (func (export "f") (result i32) (i32.add (i32.const 1) (i32.const 2))))')();
    expect(used(exports, 100n, () => expect(exports.f()).toBe(3))).toBe(3n);
  });

  it('charges a loop per iteration: fuel is linear in N', () => {
    const exports = metered(SPIN)();
    // loop body: local.get i32.const i32.sub local.set local.get br_if = 6 per iteration
    for (const n of [1, 10, 1000, 100_000]) expect(used(exports, 1n << 40n, () => exports.spin(n))).toBe(BigInt(6 * n));
  });

  it('uses the same fuel on every run, in the same instance or a fresh one', () => {
    const make = metered(SPIN);
    const a = make();
    const runs = [used(a, 10n ** 9n, () => a.spin(5000)), used(a, 10n ** 9n, () => a.spin(5000))];
    const b = make();
    runs.push(used(b, 10n ** 9n, () => b.spin(5000)));
    expect(new Set(runs).size).toBe(1);
  });

  it('traps when the budget runs out and leaves the counter below zero', () => {
    const exports = metered(SPIN)();
    exports.__spindle_fuel.value = 10_000n;
    expect(() => exports.forever()).toThrow(WA.RuntimeError);
    expect(exports.__spindle_fuel.value).toBeLessThan(0n);
    exports.__spindle_fuel.value = 50n;
    expect(() => exports.spin(1000)).toThrow(/unreachable/);
    expect(exports.__spindle_fuel.value).toBeLessThan(0n);
  });

  it('leaves the counter non-negative when the guest itself hits unreachable', () => {
    const exports = metered(SPIN)();
    exports.__spindle_fuel.value = 1000n;
    expect(() => exports.boom()).toThrow(/unreachable/);
    expect(exports.__spindle_fuel.value).toBeGreaterThanOrEqual(0n);
  });

  it('stops unbounded tail recursion (function entries are checkpoints)', () => {
    const exports = metered(`(module
      (func $a (export "a") (param i32) (return_call $b (i32.add (local.get 0) (i32.const 1))))
      (func $b (param i32) (return_call $a (local.get 0))))`)();
    exports.__spindle_fuel.value = 100_000n;
    expect(() => exports.a(0)).toThrow(/unreachable/);
    expect(exports.__spindle_fuel.value).toBeLessThan(0n);
  });

  it('charges nested loops per iteration and only the arm of an if that runs', () => {
    const exports = metered(`(module
      (func (export "nest") (param $outer i32) (local $inner i32)
        (loop $o                                   ;; 2 + 6 per pass, then 4 more (the if, its else arm) on the last
          (local.set $inner (i32.const 3))
          (loop $i                                 ;; 6 per pass
            (local.set $inner (i32.sub (local.get $inner) (i32.const 1)))
            (br_if $i (local.get $inner)))
          (local.set $outer (i32.sub (local.get $outer) (i32.const 1)))
          (br_if $o (local.get $outer))
          (if (local.get $outer) (then nop) (else (drop (i32.const 0))))))
      (func (export "branch") (param i32) (result i32)     ;; 3 or 5
        (if (result i32) (local.get 0) (then (i32.const 1)) (else (i32.add (i32.const 2) (i32.const 3))))))`)();
    expect(used(exports, 10n ** 6n, () => exports.nest(4))).toBe(BigInt(4 * (2 + 3 * 6 + 6) + 4));
    expect(used(exports, 100n, () => exports.branch(1))).toBe(3n);
    expect(used(exports, 100n, () => exports.branch(0))).toBe(5n);
  });

  it('charges neither a taken br_if\'s fall-through nor code after br, br_table or return', () => {
    const exports = metered(`(module
      (func (export "exit") (param i32) (result i32)
        (block $out
          (br_if $out (local.get 0))                     ;; 2
          (drop (i32.add (i32.const 1) (i32.const 2)))    ;; 4, only when not taken
          (br $out)                                       ;; 1
          (drop (i32.const 9)) (drop (i32.const 9)))      ;; dead
        (i32.const 7)                                     ;; 1: the end of $out is a branch target
        (return)                                          ;; 1
        (drop) (i32.const 8))                             ;; dead
      (func (export "table") (param i32) (result i32)
        (block $b (block $a (br_table $a $b (local.get 0)) (unreachable))   ;; 2, then $a or $b
          (return (i32.const 10)))                                          ;; 2 via $a
        (i32.const 20)))`)(); // 1 more via $b
    expect(used(exports, 100n, () => expect(exports.exit(1)).toBe(7))).toBe(4n);
    expect(used(exports, 100n, () => expect(exports.exit(0)).toBe(7))).toBe(9n);
    expect(used(exports, 100n, () => expect(exports.table(0)).toBe(10))).toBe(4n);
    expect(used(exports, 100n, () => expect(exports.table(1)).toBe(20))).toBe(3n);
  });

  it('tests the fuel at entries and loop headers: past the budget elsewhere, the run ends with the counter below zero', () => {
    const exports = metered(`(module
      (func $leaf (result i32) (i32.const 1))
      (func (export "arm") (param i32) (result i32)          ;; 2, then 5 in the arm
        (if (result i32) (local.get 0)
          (then (i32.add (i32.add (i32.const 1) (i32.const 2)) (i32.const 3)))
          (else (i32.const 0))))
      (func (export "after") (result i32) (local $i i32)     ;; 3, the leaf's 1, then 2 and 1 more after the call
        (block $b (br_if $b (i32.eqz (call $leaf))) (local.set $i (i32.const 1)))
        (local.get $i))
      (func (export "twice") (result i32) (i32.add (call $leaf) (call $leaf)))   ;; 3, then a leaf of 1 each
      (func $deep (export "deep") (call $deep)))`)();
    expect(used(exports, 7n, () => exports.arm(1))).toBe(7n);
    exports.__spindle_fuel.value = 6n;
    expect(exports.arm(1)).toBe(6); // the arm's block is not tested: the host sees the counter
    expect(exports.__spindle_fuel.value).toBe(-1n);
    expect(used(exports, 100n, () => expect(exports.after()).toBe(1))).toBe(7n);
    exports.__spindle_fuel.value = 5n;
    expect(exports.after()).toBe(1);
    expect(exports.__spindle_fuel.value).toBe(-2n);
    exports.__spindle_fuel.value = 4n;
    expect(() => exports.twice()).toThrow(/unreachable/); // the second leaf's entry tests
    expect(exports.__spindle_fuel.value).toBe(-1n);
    exports.__spindle_fuel.value = 1000n;
    expect(() => exports.deep()).toThrow(/unreachable/); // fuel, long before the stack runs out
    expect(exports.__spindle_fuel.value).toBeLessThan(0n);
  });

  it('counts the same with the global alone when a function has no local to spare (V8\'s 50,000)', () => {
    const body = `(loop $l
        (if (i32.and (local.get 0) (i32.const 1)) (then (local.set 1 (i32.add (local.get 1) (i32.const 3)))))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (br_if $l (local.get 0)))
      (local.get 1)`;
    const exports = metered(`(module
      (func (export "full") (param i32) (result i32) (local ${'i32 '.repeat(49_999)}) ${body})
      (func (export "spare") (param i32) (result i32) (local i32) ${body}))`)();
    // 10 per pass (4 more on odd ones) and the final local.get
    expect(used(exports, 10n ** 6n, () => expect(exports.full(10)).toBe(15))).toBe(BigInt(10 * 10 + 5 * 4 + 1));
    expect(used(exports, 10n ** 6n, () => exports.full(10))).toBe(used(exports, 10n ** 6n, () => exports.spare(10)));
    exports.__spindle_fuel.value = 50n;
    expect(() => exports.full(1000)).toThrow(/unreachable/);
    expect(exports.__spindle_fuel.value).toBeLessThan(0n);
  });

  it('does not meter the start function: the counter starts at 2^63 - 1', () => {
    const exports = metered(`(module (global $g (mut i32) (i32.const 0))
      (func $init (loop $l (global.set $g (i32.add (global.get $g) (i32.const 1))) (br_if $l (i32.lt_u (global.get $g) (i32.const 100)))))
      (start $init) (func (export "_start")))`)();
    expect(exports.__spindle_fuel.value).toBeLessThan(FUEL_UNSET);
    expect(exports.__spindle_fuel.value).toBeGreaterThan(FUEL_UNSET - 10_000n);
  });
});
