/**
 * A node whose port is taken says so in one line and how to change it (PORT), without a stack
 * trace, and exits with code 2 before it opens its store. Started as a user starts it (src/main.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

let held: Server;
let port: number;
let dir: string;

beforeAll(async () => {
  held = createServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  port = (held.address() as AddressInfo).port;
  dir = await mkdtemp(join(tmpdir(), 'spindle-port-'));
});

afterAll(async () => {
  await new Promise((resolve) => held.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

function start(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1', AUTH: 'off', DATA_DIR: dir, ...env };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'S3_ENDPOINT']) delete childEnv[k];
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c));
  child.stderr.on('data', (c: Buffer) => (out += c));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
}

describe('start-up on a port in use', () => {
  it('names the port and PORT, prints no stack, exits with 2 before opening the store', { timeout: 60_000 }, async () => {
    const { code, out } = await start({ PORT: String(port) });
    expect(code).toBe(2);
    expect(out).toContain(`Spindle cannot start: port ${port} on 127.0.0.1 is already in use. Stop what holds it, or set PORT to a free port (e.g. PORT=${port + 1} npm start).`);
    expect(out).not.toMatch(/^\s+at /m);
    expect(out).not.toContain('PGlite'); // the store was never opened
  });

  it('says the same of METRICS_PORT', { timeout: 60_000 }, async () => {
    const { code, out } = await start({ PORT: '0', METRICS_PORT: String(port) });
    expect(code).toBe(2);
    expect(out).toContain(`port ${port} on 127.0.0.1 is already in use. Stop what holds it, or set METRICS_PORT to a free port`);
  });
});
