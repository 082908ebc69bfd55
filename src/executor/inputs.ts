/**
 * Turns a claimed task into a RunRequest. Everything the store hands out by reference (module
 * bytes, input files, the agent's name for argv[0]) is fetched once per node and cached, so the
 * hot path of a task whose module and agent were seen before does no I/O at all.
 */
import type { FileEntry } from '../domain/index.js';
import type { ModuleRef, RunRequest } from '../runtime/types.js';
import { decodeFiles, type Store, type TaskRow } from '../store/index.js';

export interface InputsOptions {
  store: Store;
  /** Module bytes kept for re-compiles after the runtime's own LRU dropped a module. Default 256 MiB. */
  moduleBytesBudget?: number;
}

const DEFAULT_ARGV0 = 'main.wasm';
/** Agents are few; past this many names the map starts over rather than growing without bound. */
const MAX_AGENT_NAMES = 10_000;

export function makeInputs({ store, moduleBytesBudget = 256 * 1024 * 1024 }: InputsOptions) {
  // Settled values are stored unwrapped so a cache hit builds the request synchronously.
  const modules = new Map<string, Uint8Array | Promise<Uint8Array>>();
  let moduleBytes = 0;
  const agentNames = new Map<string, string | Promise<string>>();
  const bundles = new Map<string, Promise<FileEntry[]>>();

  function remember(digest: string, bytes: Uint8Array) {
    modules.delete(digest);
    modules.set(digest, bytes);
    moduleBytes += bytes.length;
    // Map order is insertion order: the first entries are the least recently used.
    for (const [d, b] of modules) {
      if (moduleBytes <= moduleBytesBudget || d === digest) break;
      if (b instanceof Uint8Array) moduleBytes -= b.length;
      modules.delete(d);
    }
  }

  function moduleBytesOf(digest: string): Uint8Array | Promise<Uint8Array> {
    const hit = modules.get(digest);
    if (hit instanceof Uint8Array) {
      modules.delete(digest); // refresh recency
      modules.set(digest, hit);
      return hit;
    }
    if (hit) return hit;
    const pending = store.blobs.get(digest).then(
      (bytes) => {
        if (!bytes) {
          modules.delete(digest);
          throw new Error(`module ${digest} is missing from the blob store`);
        }
        remember(digest, bytes);
        return bytes;
      },
      (err: unknown) => {
        modules.delete(digest);
        throw err;
      },
    );
    modules.set(digest, pending);
    return pending;
  }

  function argv0Of(task: TaskRow): string | Promise<string> {
    const hit = agentNames.get(task.agentId);
    if (hit !== undefined) return hit;
    if (agentNames.size >= MAX_AGENT_NAMES) agentNames.clear();
    const pending = store.agents.name(task.tenantId, task.agentId).then(
      (found) => {
        const name = found ?? DEFAULT_ARGV0;
        agentNames.set(task.agentId, name);
        return name;
      },
      () => {
        agentNames.delete(task.agentId);
        return DEFAULT_ARGV0;
      },
    );
    agentNames.set(task.agentId, pending);
    return pending;
  }

  function filesOf(digest: string): Promise<FileEntry[]> {
    // Only concurrent fetches are shared; bundles are per task, usually, and not kept.
    let pending = bundles.get(digest);
    if (!pending) {
      pending = store.blobs
        .get(digest)
        .then((bytes) => {
          if (!bytes) throw new Error(`input files bundle ${digest} is missing from the blob store`);
          return decodeFiles(bytes);
        })
        .finally(() => bundles.delete(digest));
      bundles.set(digest, pending);
    }
    return pending;
  }

  /** The RunRequest for a task: returned directly when everything is cached, else a promise. */
  function request(task: TaskRow): RunRequest | Promise<RunRequest> {
    const bytes = moduleBytesOf(task.moduleDigest);
    // The agent's name is looked up only for tasks that did not set argv[0].
    const argv0 = task.wasi?.argv0 ?? argv0Of(task);
    const files = task.filesDigest ? filesOf(task.filesDigest) : undefined;
    if (bytes instanceof Uint8Array && typeof argv0 === 'string' && files === undefined) {
      return build(task, { digest: task.moduleDigest, bytes }, argv0, undefined);
    }
    return Promise.all([bytes, argv0, files]).then(([b, a, f]) => build(task, { digest: task.moduleDigest, bytes: b }, a, f));
  }

  return { request };
}

function build(task: TaskRow, module: ModuleRef, argv0: string, files: FileEntry[] | undefined): RunRequest {
  return {
    module,
    argv0,
    args: task.args,
    env: task.env,
    stdin: task.stdin,
    ...(files ? { files } : {}),
    ...(task.wasi?.mounts ? { mounts: task.wasi.mounts } : {}),
    limits: task.limits,
    ...(task.deterministic ? { deterministic: task.deterministic } : {}),
  };
}
