/**
 * A Spindle node in a process of its own, started exactly as a user starts one (`src/main.ts`,
 * through tsx), for the tests that must see the process itself: that it stays alive through a
 * fault, or that kill -9 loses nothing. Logs (pino JSON on stdout) are kept for inspection.
 *
 *   const node = await spawnNode({ DATABASE_URL: `${url}?schema=${schema}`, REDIS_URL: … });
 *   … node.graphqlUrl …
 *   node.kill('SIGKILL'); await node.exited;
 *
 * The test owns the data: give it a DATA_DIR / a schema, and clean them up yourself.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface NodeProcess {
  pid: number;
  nodeId: string;
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  /** Every line the process wrote to stdout and stderr so far (banner and JSON logs). */
  lines: string[];
  /** Parsed JSON log lines (pino), in order. */
  logs(): Record<string, unknown>[];
  /** Resolves with how the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const BASE_ENV: Record<string, string> = {
  PORT: '0',
  HOST: '127.0.0.1',
  WORKERS: '2',
  AUTH: 'off',
  LOG_LEVEL: 'info',
  SHUTDOWN_GRACE_MS: '2000',
};

/** Starts `src/main.ts` with `env` on top of the test defaults (no DATABASE_URL/REDIS_URL inherited). */
export async function spawnNode(env: Record<string, string | undefined>, startTimeoutMs = 60_000): Promise<NodeProcess> {
  const nodeId = env.NODE_ID ?? `proc-${randomBytes(3).toString('hex')}`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'S3_ENDPOINT', 'SPINDLE_ADMIN_KEY']) delete childEnv[k];
  Object.assign(childEnv, BASE_ENV, { NODE_ID: nodeId });
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const collect = (stream: NodeJS.ReadableStream) => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      lines.push(...parts);
    });
  };
  collect(child.stdout!);
  collect(child.stderr!);

  const url = await new Promise<string>((resolve, reject) => {
    const deadline = setTimeout(() => fail(`did not print its banner within ${startTimeoutMs} ms`), startTimeoutMs);
    const poll = setInterval(() => {
      for (const line of lines) {
        const m = /^\s+(?:API|health)\s+(http:\/\/\S+?)(?:\/graphql|\/healthz)$/.exec(line);
        if (m) {
          clearInterval(poll);
          clearTimeout(deadline);
          resolve(m[1]!);
          return;
        }
      }
    }, 50);
    void exited.then(({ code, signal }) => fail(`exited before it was ready (${signal ?? code})`));
    function fail(why: string) {
      clearInterval(poll);
      clearTimeout(deadline);
      child.kill('SIGKILL');
      reject(new Error(`node ${nodeId} ${why}:\n${lines.slice(-40).join('\n')}`));
    }
  });

  let ended = false;
  void exited.then(() => (ended = true));
  return {
    pid: child.pid!,
    nodeId,
    url,
    graphqlUrl: `${url}/graphql`,
    wsUrl: `${url.replace(/^http/, 'ws')}/graphql`,
    lines,
    logs: () =>
      lines.flatMap((l) => {
        if (!l.startsWith('{')) return [];
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    exited,
    alive: () => !ended && child.exitCode === null && child.signalCode === null,
    kill: (signal = 'SIGKILL') => void child.kill(signal),
    async stop(graceMs = 15_000) {
      if (ended) return;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(force);
    },
  };
}
