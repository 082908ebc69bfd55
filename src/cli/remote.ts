/**
 * The CLI's server commands: agents and tasks through the typed client (src/client), nothing of
 * the server's insides. Human output is a short table or summary; `--json` prints the API's own
 * answer, one JSON document (or, for the streams, one JSON line per event).
 */
import { extname } from 'node:path';
import WebSocket from 'ws';
import { ClientError, createClient, type Client, type ResultOf, type VariablesOf } from '../client/index.js';
import { Agents, CancelTask, RegisterAgent, RetryTask, SubmitTask, Task, TaskEvents, Tasks, TaskOutput, TaskUpdated } from '../client/operations.js';
import { exitCodeOf } from './exit-codes.js';
import { readInputFiles, readLocal, readStdin } from './inputs.js';
import type { Io } from './io.js';

export interface ServerOptions {
  server: string;
  apiKey?: string;
  json: boolean;
}

export function connect(o: ServerOptions): Client {
  return createClient({ url: o.server, apiKey: o.apiKey, webSocket: WebSocket });
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

type Row = Record<string, string | number | null | undefined>;

/** Columns padded to their widest cell. */
export function table(rows: Row[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = [columns.map((c) => c.toUpperCase()), ...rows.map((r) => columns.map((c) => String(r[c] ?? '-')))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

const ms = (v: number | null | undefined) => (v === null || v === undefined ? null : v < 1000 ? `${v.toFixed(v < 10 ? 1 : 0)} ms` : `${(v / 1000).toFixed(2)} s`);

// ---------- agents ----------

export async function agentsList(client: Client, o: ServerOptions, io: Io): Promise<number> {
  const { agents } = await client.request(Agents);
  if (o.json) io.print(JSON.stringify(agents, null, 2));
  else io.print(table(agents.map((a) => ({ name: a.name, version: a.latestVersion, id: a.id, updated: a.updatedAt, description: a.description })), ['name', 'version', 'id', 'updated', 'description']));
  return 0;
}

export interface RegisterOptions {
  name: string;
  file: string;
  description?: string;
}

/** A .wat goes as text (the server compiles it); anything else is uploaded raw to /modules first. */
export async function agentsRegister(client: Client, r: RegisterOptions, o: ServerOptions, io: Io): Promise<number> {
  const bytes = await readLocal(r.file, `cannot read ${r.file}`);
  const input: VariablesOf<typeof RegisterAgent>['input'] = { name: r.name, ...(r.description !== undefined ? { description: r.description } : {}) };
  if (extname(r.file).toLowerCase() === '.wat') input.wat = bytes.toString('utf8');
  else {
    if (!o.json && io.stderrIsTTY) io.error(`uploading ${r.file} (${formatBytes(bytes.length)})…`);
    input.moduleDigest = (await client.uploadModule(bytes)).digest;
  }
  const { registerAgent: agent } = await client.request(RegisterAgent, { input });
  if (o.json) io.print(JSON.stringify(agent, null, 2));
  else io.print(`agent ${agent.name} version ${agent.latestVersion} (${agent.id})`);
  return 0;
}

const formatBytes = (n: number) => (n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`);

// ---------- tasks ----------

export interface SubmitOptions {
  agent: string;
  args: string[];
  env: Record<string, string>;
  files: { host: string; guest: string }[];
  stdinFile?: string;
  priority?: number;
  version?: number;
  idempotencyKey?: string;
  timeoutMs?: number;
  memory?: number;
  maxOutput?: number;
  fuel?: string;
  wait: boolean;
}

export async function tasksSubmit(client: Client, s: SubmitOptions, o: ServerOptions, io: Io): Promise<number> {
  const [files, stdin] = await Promise.all([readInputFiles(s.files), readStdin(io, s.stdinFile)]);
  const limits = { timeoutMs: s.timeoutMs, memoryBytes: s.memory, maxOutputBytes: s.maxOutput, fuel: s.fuel };
  const input: VariablesOf<typeof SubmitTask>['input'] = {
    agent: s.agent,
    args: s.args,
    ...(Object.keys(s.env).length > 0 ? { env: s.env } : {}),
    ...(files.length > 0 ? { files: files.map((f) => ({ path: f.path, base64: Buffer.from(f.bytes).toString('base64') })) } : {}),
    ...(stdin.length > 0 ? { stdinBase64: Buffer.from(stdin).toString('base64') } : {}),
    ...(s.priority !== undefined ? { priority: s.priority } : {}),
    ...(s.version !== undefined ? { version: s.version } : {}),
    ...(s.idempotencyKey !== undefined ? { idempotencyKey: s.idempotencyKey } : {}),
    ...(Object.values(limits).some((v) => v !== undefined) ? { limits } : {}),
  };
  const { submitTask: task } = await client.request(SubmitTask, { input });
  if (!s.wait) {
    if (o.json) io.print(JSON.stringify(task, null, 2));
    else io.print(task.id);
    return 0;
  }
  if (!o.json && io.stderrIsTTY) io.error(`task ${task.id} ${task.status.toLowerCase()}`);
  return follow(client, task.id, o, io);
}

/**
 * Streams a task's output live (stdout to stdout, stderr to stderr) until it ends, then answers
 * the exit status: the guest's exit code, or EXIT_CODES of how its last attempt ended. A retried
 * task's every attempt streams in turn. Ctrl-C stops following; the task goes on.
 */
async function follow(client: Client, id: string, o: ServerOptions, io: Io): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    let unsubscribe = () => {};
    io.onInterrupt(() => {
      unsubscribe();
      io.error(`spindle: stopped following task ${id}; it goes on (spindle tasks cancel ${id} stops it)`);
      resolve();
    });
    let attempt = 0;
    unsubscribe = client.subscribe(TaskOutput, { id }, {
      next: ({ taskOutput: chunk }) => {
        if (o.json) return;
        if (chunk.attempt !== attempt) {
          if (attempt !== 0 && io.stderrIsTTY) io.error(`--- attempt ${chunk.attempt} ---`);
          attempt = chunk.attempt;
        }
        io.write(chunk.stream, Buffer.from(chunk.base64, 'base64'));
      },
      error: reject,
      complete: resolve,
    });
  });
  const { task } = await client.request(Task, { id });
  if (!task) throw new ClientError(`task ${id} is gone (deleted)`, 'NOT_FOUND');
  if (!TERMINAL.has(task.status)) return 130; // interrupted: the task has not ended
  if (o.json) io.print(JSON.stringify(task, null, 2));
  else if (io.stderrIsTTY || task.status !== 'SUCCEEDED') io.error(`task ${task.id} ${task.status}${task.outcome && task.outcome !== 'exited' ? ` (${task.outcome}${task.error ? `: ${task.error}` : ''})` : ''} after ${task.attempts} attempt${task.attempts === 1 ? '' : 's'}${task.durationMs !== null ? `, ${ms(task.durationMs)}` : ''}`);
  if (task.status === 'CANCELLED') return exitCodeOf('cancelled', null);
  return task.outcome ? exitCodeOf(task.outcome, task.exitCode) : 1;
}

export async function tasksGet(client: Client, id: string, o: ServerOptions, io: Io): Promise<number> {
  const { task } = await client.request(Task, { id });
  if (!task) throw new ClientError(`no task ${id}`, 'NOT_FOUND');
  if (o.json) {
    io.print(JSON.stringify(task, null, 2));
    return 0;
  }
  const lines: [string, string | number | null][] = [
    ['id', task.id],
    ['agent', `${task.agent.name} v${task.agentVersion.version}`],
    ['status', task.status],
    ['outcome', task.outcome ?? null],
    ['exit code', task.exitCode ?? null],
    ['attempts', task.attempts],
    ['created', task.createdAt],
    ['queued for', ms(task.queueMs)],
    ['ran for', ms(task.durationMs)],
    ['error', task.error ?? null],
    ['args', task.args.length > 0 ? JSON.stringify(task.args) : null],
    ['output files', task.outputFiles.length > 0 ? task.outputFiles.map((f) => `${f.path} (${formatBytes(f.size)})`).join(', ') : null],
  ];
  for (const [k, v] of lines) if (v !== null) io.print(`${k.padEnd(13)}${v}`);
  if (task.stdout) io.print(`--- stdout ---\n${task.stdout.replace(/\n$/, '')}`);
  if (task.stderr) io.print(`--- stderr ---\n${task.stderr.replace(/\n$/, '')}`);
  return 0;
}

export interface ListOptions {
  status?: string[];
  agent?: string;
  first: number;
  after?: string;
}

export async function tasksList(client: Client, l: ListOptions, o: ServerOptions, io: Io): Promise<number> {
  const filter: VariablesOf<typeof Tasks>['filter'] = {
    ...(l.status ? { status: l.status as NonNullable<NonNullable<VariablesOf<typeof Tasks>['filter']>['status']> } : {}),
    ...(l.agent ? { agent: l.agent } : {}),
  };
  const { tasks } = await client.request(Tasks, { filter, first: l.first, ...(l.after ? { after: l.after } : {}) });
  if (o.json) {
    io.print(JSON.stringify(tasks, null, 2));
    return 0;
  }
  const rows = tasks.edges.map(({ node: t }) => ({ id: t.id, agent: t.agent.name, status: t.status, exit: t.exitCode ?? (t.outcome && t.outcome !== 'exited' ? t.outcome : null), attempts: t.attempts, took: ms(t.durationMs), created: t.createdAt }));
  io.print(table(rows, ['id', 'agent', 'status', 'exit', 'attempts', 'took', 'created']));
  if (tasks.pageInfo.hasNextPage) io.error(`more: --after ${tasks.pageInfo.endCursor}`);
  return 0;
}

export async function tasksCancel(client: Client, id: string, o: ServerOptions, io: Io): Promise<number> {
  const { cancelTask } = await client.request(CancelTask, { id });
  io.print(o.json ? JSON.stringify(cancelTask, null, 2) : `task ${cancelTask.id} ${cancelTask.status}`);
  return 0;
}

export async function tasksRetry(client: Client, id: string, o: ServerOptions, io: Io): Promise<number> {
  const { retryTask } = await client.request(RetryTask, { id });
  io.print(o.json ? JSON.stringify(retryTask, null, 2) : `task ${retryTask.id} ${retryTask.status}`);
  return 0;
}

type EventLine = Pick<ResultOf<typeof TaskUpdated>['taskUpdated'], 'taskId' | 'status' | 'attempt' | 'exitCode' | 'outcome' | 'at'>;

const eventLine = (e: EventLine, agent?: string) =>
  [e.at, e.taskId, agent, e.status, e.attempt > 0 ? `attempt ${e.attempt}` : null, e.outcome && e.outcome !== 'exited' ? e.outcome : null, e.exitCode !== null ? `exit ${e.exitCode}` : null].filter(Boolean).join('  ');

/**
 * One task's changes until it ends (the exit status as `submit --wait` answers it), or, without
 * an id, every task event matching the filter until Ctrl-C.
 */
export async function tasksWatch(client: Client, w: { id?: string; status?: string[]; agent?: string }, o: ServerOptions, io: Io): Promise<number> {
  let last: EventLine | undefined;
  await new Promise<void>((resolve, reject) => {
    let unsubscribe = () => {};
    io.onInterrupt(() => {
      unsubscribe();
      resolve();
    });
    const sink = <T>(pick: (d: T) => { e: EventLine; agent?: string }) => ({
      next: (d: T) => {
        const { e, agent } = pick(d);
        last = e;
        io.print(o.json ? JSON.stringify(e) : eventLine(e, agent));
      },
      error: reject,
      complete: resolve,
    });
    if (w.id) unsubscribe = client.subscribe(TaskUpdated, { id: w.id }, sink((d) => ({ e: d.taskUpdated })));
    else {
      const filter = { ...(w.status ? { status: w.status as never } : {}), ...(w.agent ? { agent: w.agent } : {}) };
      unsubscribe = client.subscribe(TaskEvents, { filter }, sink((d) => ({ e: d.taskEvents, agent: d.taskEvents.task.agent.name })));
    }
  });
  if (!w.id || !last || !TERMINAL.has(last.status)) return 0;
  if (last.status === 'CANCELLED') return exitCodeOf('cancelled', null);
  return last.outcome ? exitCodeOf(last.outcome, last.exitCode) : 1;
}
