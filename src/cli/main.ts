/**
 * `spindle`, the command line: runs a module here (`spindle run`, no server), or talks to a
 * server (agents, tasks) through the typed client. Parsing is node:util's parseArgs; a mistake
 * of the caller is one line naming the flag and exit status 2, an error of the server its
 * message and code and status 1.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ClientError } from '../client/index.js';
import { CONFIG_OPTIONS, parseBytes } from '../config/index.js';
import { UsageError, processIo, type Io } from './io.js';
import { EXIT_CODES } from './exit-codes.js';
import type { ServerOptions } from './remote.js';

/** The server's address when neither --server nor SPINDLE_SERVER names one. */
const DEFAULT_SERVER = 'http://localhost:4000';

const HELP = () => `spindle: run WebAssembly (WASI preview 1) programs, here or on a Spindle server

Usage:
  spindle run <module.wasm|module.wat> [options] [--] [args…]
  spindle agents list
  spindle agents register <name> <module.wasm|module.wat> [--description TEXT]
  spindle tasks submit <agent> [options] [--wait] [-- args…]
  spindle tasks get <id>
  spindle tasks list [--status S[,S…]] [--agent NAME] [--first N] [--after CURSOR]
  spindle tasks cancel <id>
  spindle tasks retry <id>
  spindle tasks watch [<id>] [--status S[,S…]] [--agent NAME]

Run options (spindle run; tasks submit takes them too):
  --env KEY=VALUE         an environment variable of the guest (repeatable)
  --file HOST[:GUEST]     an input file, at GUEST (default /<its name>) in the guest's filesystem (repeatable)
  --stdin FILE            the guest's stdin from FILE ("-": this stdin; the default when it is not a terminal)
  --timeout-ms N          wall-clock limit in ms            (run: DEFAULT_TIMEOUT_MS, ${defaultOf('DEFAULT_TIMEOUT_MS')})
  --memory BYTES          memory limit, e.g. 64MiB          (run: DEFAULT_MEMORY_BYTES, ${defaultOf('DEFAULT_MEMORY_BYTES')})
  --max-output BYTES      stdout and stderr kept, each      (run: DEFAULT_MAX_OUTPUT_BYTES, ${defaultOf('DEFAULT_MAX_OUTPUT_BYTES')})
  --fuel N                instruction budget                (run: DEFAULT_FUEL, ${defaultOf('DEFAULT_FUEL')})
                          tasks submit: the agent's defaults, else the server's
  --out DIR               spindle run: write the files the guest wrote under DIR
  --argv0 NAME            argv[0] as the guest sees it
Submit options: --priority N, --agent-version N, --idempotency-key KEY,
  --wait (stream the task's output live and exit with its exit code)

Global options:
  --server URL            the server (env SPINDLE_SERVER; default ${DEFAULT_SERVER})
  --key KEY               an API key, spd_… (env SPINDLE_API_KEY)
  --json                  answer in JSON, for scripts
  -h, --help              this help
  --version               the version

Exit status: the guest's exit code; ${EXIT_CODES.timeout} timeout, ${EXIT_CODES.trap} trap, ${EXIT_CODES.memory_limit} another limit (memory, fuel, output)
or a host error, ${EXIT_CODES.invalid_module} invalid module, ${EXIT_CODES.cancelled} cancelled or interrupted; 2 a usage error, 1 an error of the server.
`;

/** A setting's default as the README's table gives it; `spindle run` reads the same environment. */
const defaultOf = (name: string) => CONFIG_OPTIONS.find((o) => o.name === name)?.default ?? '?';

const OPTIONS = {
  server: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  env: { type: 'string', multiple: true },
  file: { type: 'string', multiple: true },
  stdin: { type: 'string' },
  'timeout-ms': { type: 'string' },
  memory: { type: 'string' },
  'max-output': { type: 'string' },
  fuel: { type: 'string' },
  out: { type: 'string' },
  argv0: { type: 'string' },
  priority: { type: 'string' },
  'agent-version': { type: 'string' },
  'idempotency-key': { type: 'string' },
  wait: { type: 'boolean' },
  description: { type: 'string' },
  status: { type: 'string' },
  agent: { type: 'string' },
  first: { type: 'string' },
  after: { type: 'string' },
} satisfies ParseArgsConfig['options'];

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/**
 * Splits the command line where the guest's arguments begin: after `--`, and for `run` after the
 * module too (everything from there goes to the guest, flags included, as with `wasmtime run`).
 * `tasks submit` takes its options anywhere (`--wait` after the agent is the usual spelling), so
 * its guest arguments come after `--` only.
 */
function split(argv: string[], guestAfter: number): { own: string[]; guest: string[] } {
  const takesValue = new Set(Object.entries(OPTIONS).filter(([, o]) => o.type === 'string').map(([name]) => `--${name}`));
  let positionals = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return { own: argv.slice(0, i), guest: argv.slice(i + 1) };
    if (a.startsWith('-') && a !== '-') {
      if (takesValue.has(a)) i++;
      continue;
    }
    if (++positionals === guestAfter) return { own: argv.slice(0, i + 1), guest: argv.slice(i + 1) };
  }
  return { own: argv, guest: [] };
}

function parse(argv: string[]): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nspindle --help lists the commands and options`);
  }
}

const int = (flag: string, v: string | undefined, min: number, max: number): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || n < min || n > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
  return n;
};

function envOf(list: string[] | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of list ?? []) {
    const at = kv.indexOf('=');
    if (at <= 0) throw new UsageError(`--env must be KEY=VALUE (got ${JSON.stringify(kv)})`);
    env[kv.slice(0, at)] = kv.slice(at + 1);
  }
  return env;
}

function filesOf(list: string[] | undefined): { host: string; guest: string }[] {
  return (list ?? []).map((spec) => {
    const at = spec.lastIndexOf(':');
    const [host, guest] = at > 0 ? [spec.slice(0, at), spec.slice(at + 1)] : [spec, `/${spec.replace(/.*\//, '')}`];
    if (!host || !guest) throw new UsageError(`--file must be HOST[:GUEST] (got ${JSON.stringify(spec)})`);
    return { host, guest: guest.startsWith('/') ? guest : `/${guest}` };
  });
}

const statusesOf = (v: string | undefined) => v?.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);

function bytesFlag(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = parseBytes(v);
  if (n === undefined) throw new UsageError(`${flag} must be a byte count, e.g. 65536 or 64MiB (got ${JSON.stringify(v)})`);
  return n;
}

function need(positionals: string[], at: number, what: string): string {
  const v = positionals[at];
  if (v === undefined) throw new UsageError(`missing ${what}\nspindle --help lists the commands and options`);
  return v;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [command, sub] = argv;
  if (command === undefined || command === 'help' || (argv.length === 1 && (command === '--help' || command === '-h'))) {
    io.print(HELP().trimEnd());
    return command === undefined ? 2 : 0;
  }
  if (argv.length === 1 && command === '--version') {
    io.print(version());
    return 0;
  }
  const guestAfter = command === 'run' ? 2 : Infinity;
  const { own, guest } = split(argv, guestAfter);
  const { values: v, positionals: p } = parse(own);
  if (v.help) {
    io.print(HELP().trimEnd());
    return 0;
  }
  const json = v.json ?? false;

  // Each command loads only what it uses: the runtime for a local run, the client for the rest.
  if (command === 'run') {
    const { runLocal } = await import('./local.js');
    return runLocal(
      {
        module: need(p, 1, 'the module to run: spindle run <module.wasm|module.wat>'),
        args: guest,
        env: envOf(v.env),
        files: filesOf(v.file),
        outDir: v.out,
        stdinFile: v.stdin,
        argv0: v.argv0,
        timeoutMs: v['timeout-ms'],
        memory: v.memory,
        maxOutput: v['max-output'],
        fuel: v.fuel,
        json,
      },
      io,
    );
  }

  const server: ServerOptions = { server: v.server ?? io.env.SPINDLE_SERVER ?? DEFAULT_SERVER, apiKey: v.key ?? io.env.SPINDLE_API_KEY, json };
  if (!/^https?:\/\/[^/]/.test(server.server)) throw new UsageError(`--server must be an http:// or https:// URL (got ${JSON.stringify(server.server)})`);
  const { agentsList, agentsRegister, connect, tasksCancel, tasksGet, tasksList, tasksRetry, tasksSubmit, tasksWatch } = await import('./remote.js');
  const client = connect(server);
  try {
    if (command === 'agents' && sub === 'list') return await agentsList(client, server, io);
    if (command === 'agents' && sub === 'register') {
      return await agentsRegister(client, { name: need(p, 2, 'the agent name: spindle agents register <name> <module>'), file: need(p, 3, 'the module file: spindle agents register <name> <module>'), description: v.description }, server, io);
    }
    if (command === 'tasks') {
      switch (sub) {
        case 'submit':
          return await tasksSubmit(
            client,
            {
              agent: need(p, 2, 'the agent: spindle tasks submit <agent>'),
              args: guest,
              env: envOf(v.env),
              files: filesOf(v.file),
              stdinFile: v.stdin,
              priority: int('--priority', v.priority, -2_147_483_648, 2_147_483_647),
              version: int('--agent-version', v['agent-version'], 1, 2_147_483_647),
              idempotencyKey: v['idempotency-key'],
              timeoutMs: int('--timeout-ms', v['timeout-ms'], 1, 2_147_483_647),
              memory: bytesFlag('--memory', v.memory),
              maxOutput: bytesFlag('--max-output', v['max-output']),
              fuel: v.fuel,
              wait: v.wait ?? false,
            },
            server,
            io,
          );
        case 'get':
          return await tasksGet(client, need(p, 2, 'the task id: spindle tasks get <id>'), server, io);
        case 'list':
          return await tasksList(client, { status: statusesOf(v.status), agent: v.agent, first: int('--first', v.first, 1, 1000) ?? 20, after: v.after }, server, io);
        case 'cancel':
          return await tasksCancel(client, need(p, 2, 'the task id: spindle tasks cancel <id>'), server, io);
        case 'retry':
          return await tasksRetry(client, need(p, 2, 'the task id: spindle tasks retry <id>'), server, io);
        case 'watch':
          return await tasksWatch(client, { id: p[2], status: statusesOf(v.status), agent: v.agent }, server, io);
      }
    }
    throw new UsageError(`unknown command: spindle ${[command, sub].filter(Boolean).join(' ')}\nspindle --help lists the commands`);
  } finally {
    await client.close();
  }
}

/** The process around main: exit status, and errors as one line each. */
export async function cli(argv: string[], io: Io = processIo()): Promise<number> {
  try {
    return await main(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.error(`spindle: ${err.message}`);
      return 2;
    }
    if (err instanceof ClientError) {
      const field = typeof err.extensions.field === 'string' ? ` (field ${err.extensions.field})` : '';
      io.error(`spindle: ${err.message}${field} [${err.code}]`);
      return 1;
    }
    io.error(`spindle: ${(err as Error).stack ?? String(err)}`);
    return 1;
  }
}
