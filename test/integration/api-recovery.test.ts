// The node dies mid-run (no graceful stop: nothing released, no results written) and a new node
// starts on the same data: every task still ends, none is lost, none becomes a second task, and
// no task completes twice.
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';

/** Busy-waits argv[1] milliseconds (monotonic clock), prints "done", exits 0. */
const SLEEPY_WAT = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "done\\n")
  (func $now (result i64)
    (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 32)))
    (i64.load (i32.const 32)))
  (func (export "_start")
    (local $p i32) (local $n i32) (local $c i32) (local $until i64)
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (if (i32.ge_u (i32.load (i32.const 0)) (i32.const 2))
      (then
        (drop (call $args_get (i32.const 1024) (i32.const 2048)))
        (local.set $p (i32.load (i32.const 1028)))
        (block $end
          (loop $digit
            (local.set $c (i32.load8_u (local.get $p)))
            (br_if $end (i32.lt_u (local.get $c) (i32.const 48)))
            (br_if $end (i32.gt_u (local.get $c) (i32.const 57)))
            (local.set $n (i32.add (i32.mul (local.get $n) (i32.const 10)) (i32.sub (local.get $c) (i32.const 48))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $digit)))))
    (local.set $until (i64.add (call $now) (i64.mul (i64.extend_i32_u (local.get $n)) (i64.const 1000000))))
    (loop $wait (br_if $wait (i64.lt_u (call $now) (local.get $until))))
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 5))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`;

const N = 8;
let s: TestServer | undefined;

afterAll(async () => {
  await s?.close();
});

describe('an abrupt stop mid-run', () => {
  it('loses no task and runs none as a new task after a restart on the same data', { timeout: 180_000 }, async () => {
    // A short lease, so the new node takes over the dead node's running tasks quickly; not too
    // short: on a loaded machine a heartbeat may lag, and a node must not lose its own live runs.
    s = await startTestServer({ LEASE_MS: '3000', WORKERS: '2' });
    const oldNode = s.spindle.config.nodeId;
    await s.gqlOk(`mutation ($w: String!) { registerAgent(input: {name: "sleepy", wat: $w}) { id } }`, { w: SLEEPY_WAT });
    const { submitTasks } = await s.gqlOk<{ submitTasks: { id: string }[] }>(
      `mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }`,
      { inputs: Array.from({ length: N }, (_, i) => ({ agent: 'sleepy', args: ['1500'], idempotencyKey: `sleepy-${i}` })) },
    );
    const ids = submitTasks.map((t) => t.id).sort();

    const runningAtCrash = await waitFor(
      async () => {
        const { tasks } = await s!.gqlOk(`{ tasks(filter: { status: [RUNNING] }) { edges { node { id } } } }`);
        return tasks.edges.length >= 2 ? tasks.edges.map((e: { node: { id: string } }) => e.node.id) : null;
      },
      30_000,
      'two running tasks',
    );

    s = await s.restartOnSameData();
    expect(s.spindle.config.nodeId).not.toBe(oldNode);

    await waitFor(
      async () => {
        const { tasks } = await s!.gqlOk(`{ tasks(filter: { status: [SUCCEEDED, FAILED, CANCELLED] }) { totalCount } }`);
        return tasks.totalCount === N;
      },
      120_000,
      'every task to end on the new node',
    );

    const { tasks } = await s.gqlOk(`{ tasks(first: 100) { totalCount edges { node { id status stdout idempotencyKey
      attemptList { n node outcome error } } } } }`);
    // None lost, none duplicated.
    expect(tasks.totalCount).toBe(N);
    expect(tasks.edges.map((e: { node: { id: string } }) => e.node.id).sort()).toEqual(ids);
    for (const { node } of tasks.edges) {
      expect(node.status, JSON.stringify(node)).toBe('SUCCEEDED');
      expect(node.stdout).toBe('done\n');
      const attempts = node.attemptList as { n: number; node: string; outcome: string }[];
      // Numbered 1..k without gaps, and completed exactly once.
      expect(attempts.map((a) => a.n)).toEqual(attempts.map((_, i) => i + 1));
      expect(attempts.filter((a) => a.outcome === 'exited')).toHaveLength(1);
      expect(attempts.at(-1)!.node).toBe(s.spindle.config.nodeId);
    }
    // The runs the crash interrupted are on record as host_error attempts.
    for (const id of runningAtCrash) {
      const t = tasks.edges.find((e: { node: { id: string } }) => e.node.id === id).node;
      expect(t.attemptList.some((a: { outcome: string }) => a.outcome === 'host_error'), JSON.stringify(t.attemptList)).toBe(true);
    }
  });
});
