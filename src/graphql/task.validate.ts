/**
 * submitTask/submitTasks input → validated NewTask rows. Every check happens here, once, with an
 * error naming the field (`inputs[3].limits.timeoutMs: must be between 1 and 300000`); the executor
 * and the store trust what comes out.
 */
import { badInput, type FileEntry } from '../domain/index.js';
import { encodeFiles } from '../executor/files.js';
import type { AgentRow, AgentVersionRow, NewTask } from '../store/types.js';
import { base64Size, decodeBase64, utf8 } from './codec.js';
import type { Context } from './context.js';
import { notFoundAt, requireAgent } from './ids.js';
import { checkLimits, resolveLimits, resolveRetryPolicy } from './limits.input.js';
import type { FileInput, SubmitTaskInput } from './task.input.js';

export const MAX_ARGS = 1024;
export const MAX_ENV = 1024;
/** Args and env together, in UTF-8 bytes (the guest copies them into its memory at start). */
export const MAX_ARGS_ENV_BYTES = 1024 * 1024;
export const MAX_FILES = 1000;
export const MAX_PATH = 1024;
export const MAX_IDEMPOTENCY_KEY = 255;

/** Validates a batch and stores its input files; returns the rows for executor.submit, in order. */
export async function prepareTasks(ctx: Context, inputs: SubmitTaskInput[], fieldOf: (i: number) => string): Promise<NewTask[]> {
  const { config } = ctx.deps;
  const agents = new Map<string, Promise<AgentRow>>();
  const versions = new Map<string, Promise<AgentVersionRow>>();
  const keys = new Map<string, number>();
  const bundles: (FileEntry[] | null)[] = [];
  const tasks: Omit<NewTask, 'filesDigest'>[] = [];

  for (const [i, input] of inputs.entries()) {
    const f = fieldOf(i);
    // Validate everything that needs no I/O first, so a bad batch costs no queries.
    const args = checkArgs(`${f}.args`, input.args ?? []);
    const env = checkEnv(`${f}.env`, input.env);
    checkArgsEnvSize(f, args, env);
    const stdin = checkStdin(f, input, config.maxStdinBytes);
    bundles.push(checkFiles(`${f}.files`, input.files ?? [], config.maxFilesBytes));
    const ownLimits = checkLimits(`${f}.limits`, input.limits, config);
    const retry = resolveRetryPolicy(`${f}.retryPolicy`, input.retryPolicy, config);
    const idempotencyKey = checkIdempotencyKey(`${f}.idempotencyKey`, input.idempotencyKey, keys, i, fieldOf);
    const deterministic = checkDeterministic(`${f}.deterministic`, input.deterministic);
    if (input.version != null && input.version < 1) throw badInput(`${f}.version`, 'must be at least 1');
    if (input.runAt != null && Number.isNaN(input.runAt.getTime())) throw badInput(`${f}.runAt`, 'must be a valid date-time');

    const agentKey = input.agent;
    if (!agents.has(agentKey)) agents.set(agentKey, findSubmitAgent(ctx, `${f}.agent`, input.agent));
    const agent = await agents.get(agentKey)!;
    const versionKey = `${agent.id}@${input.version ?? 'latest'}`;
    if (!versions.has(versionKey)) {
      versions.set(
        versionKey,
        findVersion(ctx, agent.id, input.version ?? undefined).then((v) => {
          if (!v) throw notFoundAt(`${f}.version`, `version ${input.version} of agent`, agent.name);
          return v;
        }),
      );
    }
    const version = await versions.get(versionKey)!;
    tasks.push({
      tenantId: ctx.tenantId,
      agentId: agent.id,
      agentVersionId: version.id,
      moduleDigest: version.moduleDigest,
      priority: input.priority ?? 0,
      stdin,
      args,
      env,
      limits: resolveLimits(ownLimits, version.defaultLimits, config),
      retry,
      deterministic,
      idempotencyKey,
      runAt: input.runAt ?? new Date(),
    });
  }

  // Only a fully valid batch writes blobs. Identical bundles share one blob (content addressed).
  const digests = await Promise.all(bundles.map((b) => (b && b.length ? ctx.deps.store.blobs.put(encodeFiles(b)) : Promise.resolve(null))));
  return tasks.map((t, i) => ({ ...t, filesDigest: digests[i]! }));
}

/** Through the node's agent cache when there is one (graphql/agent.cache.ts). */
async function findSubmitAgent(ctx: Context, field: string, idOrName: string): Promise<AgentRow> {
  const cache = ctx.deps.agentCache;
  if (!cache) return requireAgent(ctx, field, idOrName);
  const agent = await cache.find(ctx.tenantId, idOrName);
  if (!agent) throw notFoundAt(field, 'agent', idOrName);
  return agent;
}

const findVersion = (ctx: Context, agentId: string, n: number | undefined) =>
  ctx.deps.agentCache ? ctx.deps.agentCache.version(ctx.tenantId, agentId, n) : ctx.deps.store.agents.version(agentId, n);

function checkArgs(field: string, args: string[]): string[] {
  if (args.length > MAX_ARGS) throw badInput(field, `must have at most ${MAX_ARGS} items`);
  args.forEach((a, i) => {
    if (a.includes('\0')) throw badInput(`${field}[${i}]`, 'must not contain NUL');
  });
  return args;
}

function checkEnv(field: string, env: unknown): Record<string, string> {
  if (env == null) return {};
  if (typeof env !== 'object' || Array.isArray(env)) throw badInput(field, 'must be an object of string values');
  const entries = Object.entries(env as Record<string, unknown>);
  if (entries.length > MAX_ENV) throw badInput(field, `must have at most ${MAX_ENV} variables`);
  for (const [k, v] of entries) {
    if (!k || k.includes('=') || k.includes('\0')) throw badInput(`${field}.${k}`, 'variable names must be non-empty, without "=" or NUL');
    if (typeof v !== 'string') throw badInput(`${field}.${k}`, 'must be a string');
    if (v.includes('\0')) throw badInput(`${field}.${k}`, 'must not contain NUL');
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

function checkArgsEnvSize(field: string, args: string[], env: Record<string, string>) {
  let size = 0;
  for (const a of args) size += Buffer.byteLength(a) + 1;
  for (const [k, v] of Object.entries(env)) size += Buffer.byteLength(k) + Buffer.byteLength(v) + 2;
  if (size > MAX_ARGS_ENV_BYTES) throw badInput(`${field}.args`, `args and env together must be at most ${MAX_ARGS_ENV_BYTES} bytes (got ${size})`);
}

function checkStdin(field: string, input: SubmitTaskInput, max: number): Uint8Array {
  if (input.stdin != null && input.stdinBase64 != null) throw badInput(`${field}.stdin`, 'give stdin or stdinBase64, not both');
  const size = input.stdin != null ? Buffer.byteLength(input.stdin) : input.stdinBase64 != null ? base64Size(input.stdinBase64) : 0;
  const name = input.stdinBase64 != null ? 'stdinBase64' : 'stdin';
  if (size > max) throw badInput(`${field}.${name}`, `is ${size} bytes; the maximum is ${max} bytes (MAX_STDIN_BYTES)`, { size, max });
  if (input.stdin != null) return utf8(input.stdin);
  if (input.stdinBase64 != null) return decodeBase64(`${field}.stdinBase64`, input.stdinBase64);
  return new Uint8Array(0);
}

/** "/a/b.txt", "a/b.txt" → "a/b.txt"; rejects "..", ".", empty segments, NUL and over-long paths. */
export function normalizePath(field: string, path: string): string {
  if (path.length === 0 || path.length > MAX_PATH) throw badInput(field, `must be 1-${MAX_PATH} characters`);
  if (path.includes('\0')) throw badInput(field, 'must not contain NUL');
  const segments = path.replace(/^\/+/, '').split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw badInput(field, `${JSON.stringify(path)} is not a valid path (no "..", ".", empty segments or trailing "/")`);
  }
  return segments.join('/');
}

function checkFiles(field: string, files: FileInput[], maxBytes: number): FileEntry[] | null {
  if (files.length === 0) return null;
  if (files.length > MAX_FILES) throw badInput(field, `must have at most ${MAX_FILES} files`);
  const seen = new Map<string, number>();
  let total = 0;
  return files.map((file, i) => {
    const f = `${field}[${i}]`;
    const path = normalizePath(`${f}.path`, file.path);
    const previous = seen.get(path);
    if (previous !== undefined) throw badInput(`${f}.path`, `duplicates ${field}[${previous}].path (${JSON.stringify(path)})`);
    seen.set(path, i);
    if ((file.base64 == null) === (file.text == null)) throw badInput(f, 'exactly one of base64 and text must be given');
    total += file.text != null ? Buffer.byteLength(file.text) : base64Size(file.base64!);
    if (total > maxBytes) throw badInput(field, `files total more than the maximum of ${maxBytes} bytes (MAX_FILES_BYTES)`, { max: maxBytes });
    const bytes = file.text != null ? utf8(file.text) : decodeBase64(`${f}.base64`, file.base64!);
    return { path, bytes };
  });
}

function checkIdempotencyKey(field: string, key: string | null | undefined, seen: Map<string, number>, i: number, fieldOf: (i: number) => string): string | null {
  if (key == null) return null;
  if (key.length < 1 || key.length > MAX_IDEMPOTENCY_KEY) throw badInput(field, `must be 1-${MAX_IDEMPOTENCY_KEY} characters`);
  const previous = seen.get(key);
  if (previous !== undefined) throw badInput(field, `duplicates ${fieldOf(previous)}.idempotencyKey in the same batch`);
  seen.set(key, i);
  return key;
}

function checkDeterministic(field: string, d: SubmitTaskInput['deterministic']): NewTask['deterministic'] {
  if (!d) return null;
  const epochMs = d.epochMs ?? 0;
  if (!Number.isFinite(epochMs) || epochMs < 0 || epochMs > 8.64e15) throw badInput(`${field}.epochMs`, 'must be between 0 and 8640000000000000');
  return { seed: d.seed, epochMs: Math.floor(epochMs) };
}
