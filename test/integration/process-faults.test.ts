/**
 * What a node process does with a fault that slips through (src/main.ts): an unhandled promise
 * rejection is logged at error and the node goes on serving; an uncaught exception is logged and
 * ends the process with exit code 1. The fault is planted by a preloaded script (on SIGUSR2, once
 * the node is up), so the node runs exactly as a user starts it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnNode, type NodeProcess } from '../helpers/node-process.js';
import { sleep, waitFor } from '../helpers/wait.js';

const FAULT = fileURLToPath(new URL('../fixtures/scripts/process_fault.mjs', import.meta.url));

const nodes: NodeProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function nodeWith(fault: 'rejection' | 'exception') {
  const dir = await mkdtemp(join(tmpdir(), 'spindle-fault-'));
  dirs.push(dir);
  const node = await spawnNode({
    DATA_DIR: dir,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${FAULT}`.trim(),
    SPINDLE_TEST_FAULT: fault,
  }, 120_000); // start-up on PGlite, next to the CPU-heavy suites of a full run
  nodes.push(node);
  node.kill('SIGUSR2');
  return node;
}

describe('process faults', () => {
  it('an unhandled rejection is logged at error, and the node goes on serving', { timeout: 180_000 }, async () => {
    const node = await nodeWith('rejection');
    await waitFor('the rejection logged', () => node.logs().some((l) => l.msg === 'unhandled promise rejection (a bug; the node goes on)'), { timeoutMs: 30_000, everyMs: 50 });
    const line = node.logs().find((l) => String(l.msg).startsWith('unhandled promise rejection'))!;
    expect(line.level).toBe(50);
    expect((line.err as { message: string }).message).toBe('planted rejection nobody handles');
    await sleep(500); // still alive half a second later
    expect(node.alive()).toBe(true);
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    const r = await fetch(node.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ agents { name } }"}' });
    expect(((await r.json()) as { data: { agents: unknown[] } }).data.agents).toEqual([{ name: 'hello' }]);
  });

  it('an uncaught exception is logged and ends the process with exit code 1', { timeout: 180_000 }, async () => {
    const node = await nodeWith('exception');
    expect(await node.exited).toEqual({ code: 1, signal: null });
    const line = node.logs().find((l) => l.msg === 'uncaught exception: exiting');
    expect(line).toMatchObject({ level: 60, err: { message: 'planted exception nobody catches' } });
  });
});
