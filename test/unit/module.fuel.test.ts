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

  it('charges nested loops per region and both arms of an if', () => {
    const exports = metered(`(module
      (func (export "nest") (param $outer i32) (local $inner i32)
        (loop $o                                   ;; outer region: 12 instructions
          (local.set $inner (i32.const 3))
          (loop $i                                 ;; inner region: 6 instructions
            (local.set $inner (i32.sub (local.get $inner) (i32.const 1)))
            (br_if $i (local.get $inner)))
          (local.set $outer (i32.sub (local.get $outer) (i32.const 1)))
          (br_if $o (local.get $outer))
          (if (local.get $outer) (then nop) (else (drop (i32.const 0))))))
      (func (export "branch") (param i32) (result i32)     ;; 8 instructions, whichever arm runs
        (if (result i32) (local.get 0) (then (i32.const 1)) (else (i32.add (i32.const 2) (i32.const 3))))))`)();
    expect(used(exports, 10n ** 6n, () => exports.nest(4))).toBe(BigInt(4 * 12 + 4 * 3 * 6));
    expect(used(exports, 100n, () => exports.branch(1))).toBe(used(exports, 100n, () => exports.branch(0)));
    expect(used(exports, 100n, () => exports.branch(0))).toBe(6n);
  });

  it('does not meter the start function: the counter starts at 2^63 - 1', () => {
    const exports = metered(`(module (global $g (mut i32) (i32.const 0))
      (func $init (loop $l (global.set $g (i32.add (global.get $g) (i32.const 1))) (br_if $l (i32.lt_u (global.get $g) (i32.const 100)))))
      (start $init) (func (export "_start")))`)();
    expect(exports.__spindle_fuel.value).toBeLessThan(FUEL_UNSET);
    expect(exports.__spindle_fuel.value).toBeGreaterThan(FUEL_UNSET - 10_000n);
  });
});
