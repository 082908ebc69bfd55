/**
 * A private redis-server on a free port, for tests that take Redis away (never the shared one):
 *
 *   const redis = await startRedis();   // redis.url
 *   await redis.stop();                 // an outage: the port refuses connections
 *   await redis.start();                // back, on the same port, empty
 *   await redis.stop();                 // in afterAll, whatever happened
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { waitFor } from './wait.js';

export interface PrivateRedis {
  port: number;
  url: string;
  /** Starts it (again) on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Kills it (SIGKILL: no goodbye to the clients) and waits for the exit. No-op when stopped. */
  stop(): Promise<void>;
}

/** Whether `redis-server` is on the PATH (tests that need it fail or skip without it). */
export const haveRedisServer = (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, 'redis-server')));

/** `running: false` reserves the port without starting the server (Redis not there yet). */
export async function startRedis({ running = true } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const redis: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      if (child) return;
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      const started = child;
      await waitFor(`redis-server on port ${port}`, () => started.exitCode === null ? accepts(port) : Promise.reject(new Error('redis-server exited')), { timeoutMs: 10_000, everyMs: 50 }).catch(async (err: Error) => {
        started.kill('SIGKILL');
        await exited;
        child = null;
        throw new Error(`redis-server did not start on port ${port}: ${err.message}`);
      });
    },
    async stop() {
      const c = child;
      if (!c) return;
      child = null;
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGKILL');
      await exited;
    },
  };
  if (running) await redis.start();
  return redis;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
