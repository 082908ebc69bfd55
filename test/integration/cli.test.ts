/**
 * The `spindle` command as a user runs it: the real binary (bin/spindle.mjs, a process of its
 * own) on fixture modules, and against a live node for the server commands.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeServiceFree } from '../helpers/chaos.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/spindle.mjs');
const WAT = (name: string) => join(ROOT, 'test/fixtures/wat', name);
const WASM = (name: string) => join(ROOT, 'test/fixtures/c', name);

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `spindle …` with `stdin` piped in (or none: /dev/null). */
function spindle(args: string[], opts: { stdin?: string; env?: Record<string, string | undefined> } = {}): Promise<Ran> {
  const env: NodeJS.ProcessEnv = { ...process.env, SPINDLE_SERVER: undefined, SPINDLE_API_KEY: undefined, ...opts.env };
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c));
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  child.stdin.end(opts.stdin ?? '');
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spindle-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describeServiceFree('spindle run (local, no server)', () => {
  it('runs WebAssembly text: stdout through, the guest exit code as its own', async () => {
    const r = await spindle(['run', WAT('exit_code.wat'), '7']);
    expect(r.code).toBe(7);
    const ok = await spindle(['run', WAT('hello.wat')]);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(ok.stdout).toMatch(/hello/i);
  });

  it('passes stdin, args after the module (flags included) and --env to the guest', async () => {
    const echo = await spindle(['run', WAT('echo_stdin.wat')], { stdin: 'piped in\n' });
    expect(echo).toMatchObject({ code: 0, stdout: 'piped in\n' });
    const args = await spindle(['run', '--env', 'GREETING=hi there', '--argv0', 'prog', WAT('print_args_env.wat'), 'one', '--json', '--', 'two']);
    expect(args.code).toBe(0);
    expect(args.stdout).toBe('prog\none\n--json\n--\ntwo\n--\nGREETING=hi there\n');
  });

  it('gives input files to the guest and writes the files it wrote under --out', async () => {
    const input = join(dir, 'in.bin');
    await writeFile(input, 'copy me\n');
    const out = join(dir, 'out');
    const r = await spindle(['run', '--file', `${input}:/data/in.bin`, '--out', out, WASM('copy.wasm'), '/data/in.bin', '/data/copied.bin']);
    expect(r.code).toBe(0);
    expect(await readFile(join(out, 'data/copied.bin'), 'utf8')).toBe('copy me\n');
  });

  it('answers a trap, a timeout and exhausted fuel with their exit codes and a line saying which', async () => {
    const trap = await spindle(['run', WAT('unreachable.wat')]);
    expect(trap.code).toBe(134);
    expect(trap.stderr).toMatch(/^spindle: wasm trap: /m);
    const timeout = await spindle(['run', '--timeout-ms', '200', WAT('infinite_loop.wat')]);
    expect(timeout.code).toBe(124);
    expect(timeout.stderr).toContain('timed out');
    const fuel = await spindle(['run', '--fuel', '1000', WAT('infinite_loop.wat')]);
    expect(fuel.code).toBe(125);
    expect(fuel.stderr).toContain('ran out of fuel');
  });

  it('--json answers one document with the outcome, output and measurements', async () => {
    const r = await spindle(['run', '--json', WAT('exit_code.wat'), '3']);
    expect(r.code).toBe(3);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ outcome: 'exited', exitCode: 3, stdout: '', trap: null, limits: { timeoutMs: 10_000 } });
    expect(doc.runMs).toBeGreaterThanOrEqual(0);
    expect(doc.memoryPeakBytes).toBeGreaterThan(0);
  });

  it('checks limits as a node does, at and beyond them, naming the flag', async () => {
    // 64 KiB is the least memory a run may have; one byte less is refused.
    expect((await spindle(['run', '--memory', '64KiB', WAT('exit_code.wat')])).code).toBe(0);
    const small = await spindle(['run', '--memory', '65535', WAT('exit_code.wat')]);
    expect(small.code).toBe(2);
    expect(small.stderr).toContain('--memory must be a byte count between 65536 and');
    // MAX_TIMEOUT_MS (300000 by default) is the most a run may ask for.
    expect((await spindle(['run', '--timeout-ms', '300000', WAT('exit_code.wat')])).code).toBe(0);
    const long = await spindle(['run', '--timeout-ms', '300001', WAT('exit_code.wat')]);
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/--timeout-ms.*300000/);
    // The environment a node reads sets the defaults here too.
    // … and nothing else of it: a setting the CLI does not use may be anything.
    const env = await spindle(['run', '--json', WAT('exit_code.wat')], { env: { DEFAULT_TIMEOUT_MS: '1234', PORT: 'not a port' } });
    expect(JSON.parse(env.stdout).limits.timeoutMs).toBe(1234);
  });

  it('refuses what it cannot run with a line and status 2, never a stack', async () => {
    const missing = await spindle(['run', join(dir, 'nope.wasm')]);
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toContain('no such file');
    const junk = join(dir, 'junk.wat');
    await writeFile(junk, '(module (func $f (i32.add)))');
    const bad = await spindle(['run', junk]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('neither a WebAssembly binary nor valid WebAssembly text');
    const flag = await spindle(['run', '--bogus', WAT('hello.wat')]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Unknown option '--bogus'");
    for (const r of [missing, bad, flag]) expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('prints help and its version', async () => {
    const help = await spindle(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('spindle tasks submit <agent>');
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect((await spindle(['--version'])).stdout.trim()).toBe(pkg.version);
    expect((await spindle([])).code).toBe(2);
  });
}, { timeout: 60_000 });

describe('spindle against a server', { timeout: 120_000 }, () => {
  let server: TestServer;
  let env: Record<string, string>;
  beforeAll(async () => {
    server = await startTestServer();
    env = { SPINDLE_SERVER: server.url };
    // The agents the task tests use, registered here: under CI's shuffle any test may run first.
    for (const [name, file] of [['exit-code', 'exit_code.wat'], ['echo', 'echo_stdin.wat']]) {
      await server.gqlOk(`mutation ($name: String!, $wat: String!) { registerAgent(input: { name: $name, wat: $wat }) { id } }`, { name, wat: await readFile(WAT(file!), 'utf8') });
    }
  });
  afterAll(async () => {
    await server?.close();
  });

  it('registers agents from text and from a binary (uploaded), and lists them', async () => {
    const wat = await spindle(['agents', 'register', 'from-text', WAT('exit_code.wat')], { env });
    expect(wat.code).toBe(0);
    expect(wat.stdout).toMatch(/^agent from-text version 1 \(/);
    const wasm = join(dir, 'copy.wasm');
    await copyFile(WASM('copy.wasm'), wasm);
    const bin = await spindle(['agents', 'register', 'copy', wasm, '--description', 'copies a file', '--json'], { env });
    expect(bin.code).toBe(0);
    expect(JSON.parse(bin.stdout)).toMatchObject({ name: 'copy', description: 'copies a file', latestVersion: 1 });
    const list = await spindle(['agents', 'list', '--json'], { env });
    expect((JSON.parse(list.stdout) as { name: string }[]).map((a) => a.name)).toEqual(expect.arrayContaining(['copy', 'from-text']));
  });

  it('submit --wait streams the output and exits with the task exit code', async () => {
    const echo = await spindle(['tasks', 'submit', 'echo', '--wait'], { env, stdin: 'through the queue\n' });
    expect(echo).toMatchObject({ code: 0, stdout: 'through the queue\n' });
    const failed = await spindle(['tasks', 'submit', 'exit-code', '--wait', '--', '5'], { env });
    expect(failed.code).toBe(5);
    expect(failed.stderr).toMatch(/task \S+ FAILED/);
  });

  it('submits, gets, lists, retries, watches and cancels tasks', async () => {
    const submitted = await spindle(['tasks', 'submit', 'exit-code', '--json', '--', '4'], { env });
    const { id } = JSON.parse(submitted.stdout) as { id: string };
    const watched = await spindle(['tasks', 'watch', id], { env });
    expect(watched.code).toBe(4);
    expect(watched.stdout).toMatch(new RegExp(`${id}\\s+FAILED\\s+attempt \\d+\\s+exit 4`));
    const got = JSON.parse((await spindle(['tasks', 'get', id, '--json'], { env })).stdout);
    expect(got).toMatchObject({ id, status: 'FAILED', exitCode: 4, agent: { name: 'exit-code' } });
    const list = JSON.parse((await spindle(['tasks', 'list', '--status', 'failed', '--agent', 'exit-code', '--json'], { env })).stdout);
    expect(list.edges.map((e: { node: { id: string } }) => e.node.id)).toContain(id);
    const retried = await spindle(['tasks', 'retry', id], { env });
    expect(retried).toMatchObject({ code: 0, stdout: `task ${id} QUEUED\n` });
    // Cancelling an ended task is refused by the server: its message and code, status 1.
    await spindle(['tasks', 'watch', id], { env });
    const cancel = await spindle(['tasks', 'cancel', id], { env });
    expect(cancel.code).toBe(1);
    expect(cancel.stderr).toMatch(/\[CONFLICT\]$/m);
  });

  it('reports the server refusing a submit, naming the field, with status 1', async () => {
    const r = await spindle(['tasks', 'submit', 'no-such-agent'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('(field input.agent) [NOT_FOUND]');
  });

  it('says when the server cannot be reached or the URL is not one', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const down = await spindle(['agents', 'list', '--server', `http://127.0.0.1:${port}`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toBe(`spindle: cannot reach http://127.0.0.1:${port}: ECONNREFUSED [NETWORK]\n`);
    const bad = await spindle(['agents', 'list', '--server', 'localhost:4000']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--server must be an http:// or https:// URL');
  });
});

describe('spindle with API keys', { timeout: 120_000 }, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ AUTH: 'on' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('sends --key or SPINDLE_API_KEY, and reports a refused key', async () => {
    const ok = await spindle(['agents', 'list', '--json'], { env: { SPINDLE_SERVER: server.url, SPINDLE_API_KEY: server.adminKey! } });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual(expect.any(Array));
    const refused = await spindle(['agents', 'list', '--server', server.url, '--key', 'spd_not_a_key']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/\[UNAUTHENTICATED\]$/m);
  });
});
