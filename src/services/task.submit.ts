/**
 * Submitting tasks: a batch's quota, its checks (task.check.ts, each input's before its lookups),
 * its agents and versions (through the node's agent cache), its input files written as blobs (only
 * once the whole batch is valid), then executor.submit. Every check happens once, here, with an
 * error naming the field (`inputs[3].limits.timeoutMs: must be between 1 and 300000`).
 *
 * With traces on, each task carries the W3C trace context of the request that submitted it (its
 * span, active here): the executor's spans of its attempts join that trace on whichever node.
 */
import { context, propagation } from '@opentelemetry/api';
import type { Config } from '../config/index.js';
import { badInput, type FileEntry, type Principal } from '../domain/index.js';
import type { Executor } from '../executor/types.js';
import { encodeFiles, type AgentRow, type AgentVersionRow, type NewTask, type Store, type TaskRow, type TraceContext } from '../store/index.js';
import type { AgentCache } from './agent.cache.js';
import { notFoundAt } from './ids.js';
import { checkLimits, resolveLimits, resolveRetryPolicy } from './limits.js';
import type { Quotas } from './quota.service.js';
import {
  checkArgs,
  checkArgsEnvSize,
  checkArgv0,
  checkDeterministic,
  checkEnv,
  checkFiles,
  checkIdempotencyKey,
  checkMounts,
  checkRunAt,
  checkStdin,
  type SubmitTaskParams,
} from './task.check.js';

export interface SubmitDeps {
  config: Config;
  store: Store;
  executor: Executor;
  quotas: Quotas;
  agentCache: AgentCache;
  /** Counts accepted submissions (metrics). */
  onSubmitted?: (created: number) => void;
  /** Traces are on: store the active trace context with the tasks. */
  traced?: boolean;
}

/** Submits a batch, in order, all or none; the caller's role was checked. `fieldOf(i)` names input i in errors. */
export async function submitTasks(deps: SubmitDeps, caller: Principal, inputs: SubmitTaskParams[], fieldOf: (i: number) => string): Promise<TaskRow[]> {
  // Before validation writes input-file blobs: a refused batch leaves nothing behind.
  await deps.quotas.checkSubmit(caller.tenantId, inputs.length);
  const tasks = await prepareTasks(deps, caller.tenantId, inputs, fieldOf);
  const results = await deps.executor.submit(tasks);
  deps.onSubmitted?.(results.filter((r) => r.created).length);
  return results.map((r) => r.task);
}

/** Validates a batch and stores its input files; returns the rows for executor.submit, in order. */
async function prepareTasks(deps: SubmitDeps, tenantId: string, inputs: SubmitTaskParams[], fieldOf: (i: number) => string): Promise<NewTask[]> {
  const { config, agentCache } = deps;
  // Each agent and version looked up once per batch (a batch of one agent awaits once).
  const agents = new Map<string, AgentRow>();
  const versions = new Map<string, AgentVersionRow>();
  const keys = new Map<string, number>();
  const bundles: (FileEntry[] | null)[] = [];
  const tasks: NewTask[] = [];
  const traceContext = deps.traced ? activeTraceContext() : null;

  for (const [i, input] of inputs.entries()) {
    const f = fieldOf(i);
    // Validate everything that needs no I/O first, so a bad batch costs no queries.
    const args = checkArgs(`${f}.args`, input.args ?? []);
    const env = checkEnv(`${f}.env`, input.env);
    const argv0 = checkArgv0(`${f}.argv0`, input.argv0);
    checkArgsEnvSize(f, args, env, argv0);
    const stdin = checkStdin(f, input, config.maxStdinBytes);
    const mounts = checkMounts(`${f}.mounts`, input.mounts);
    bundles.push(checkFiles(`${f}.files`, input.files ?? [], config.maxFilesBytes, mounts));
    const ownLimits = checkLimits(`${f}.limits`, input.limits, config);
    const retryPolicy = resolveRetryPolicy(`${f}.retryPolicy`, input.retryPolicy, config);
    const idempotencyKey = checkIdempotencyKey(`${f}.idempotencyKey`, input.idempotencyKey, keys, i, fieldOf);
    const deterministic = checkDeterministic(`${f}.deterministic`, input.deterministic);
    if (input.version != null && input.version < 1) throw badInput(`${f}.version`, 'must be at least 1');
    if (input.runAt != null) checkRunAt(`${f}.runAt`, input.runAt);

    let agent = agents.get(input.agent);
    if (!agent) {
      const found = await agentCache.find(tenantId, input.agent);
      if (!found) throw notFoundAt(`${f}.agent`, 'agent', input.agent);
      agents.set(input.agent, (agent = found));
    }
    const versionKey = `${agent.id}@${input.version ?? 'latest'}`;
    let version = versions.get(versionKey);
    if (!version) {
      const found = await agentCache.version(tenantId, agent.id, input.version ?? undefined);
      if (!found) throw notFoundAt(`${f}.version`, `version ${input.version} of agent`, agent.name);
      versions.set(versionKey, (version = found));
    }
    tasks.push({
      tenantId,
      agentId: agent.id,
      agentName: agent.name,
      agentVersionId: version.id,
      moduleDigest: version.moduleDigest,
      priority: input.priority ?? 0,
      stdin,
      args,
      env,
      filesDigest: null,
      limits: resolveLimits(ownLimits, version.defaultLimits, config),
      retryPolicy,
      deterministic,
      idempotencyKey,
      runAt: input.runAt ?? new Date(),
      traceContext,
      wasi: argv0 === null && mounts === null ? null : { ...(argv0 !== null ? { argv0 } : {}), ...(mounts !== null ? { mounts } : {}) },
    });
  }

  // Only a fully valid batch writes blobs. Identical bundles share one blob (content addressed).
  const writes: Promise<void>[] = [];
  bundles.forEach((b, i) => {
    if (b && b.length) writes.push(deps.store.blobs.put(encodeFiles(b)).then((digest) => void (tasks[i]!.filesDigest = digest)));
  });
  if (writes.length > 0) await Promise.all(writes);
  return tasks;
}

/** The active span's context as W3C headers (`traceparent`, `tracestate`), or null outside any span. */
function activeTraceContext(): TraceContext | null {
  const carrier: TraceContext = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? carrier : null;
}
