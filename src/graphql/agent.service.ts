/**
 * Agent registration, transport-free: used by the registerAgent mutation and by main.ts for the
 * demo agent. Validates the name and the module source, compiles WAT, inspects the module with the
 * runtime (INVALID_MODULE with its reason), stores the bytes and records a new version.
 */
import wabtInit from 'wabt';
import type { Config } from '../config/index.js';
import { badInput, SpindleError } from '../domain/index.js';
import type { Runtime } from '../runtime/types.js';
import type { AgentCache } from './agent.cache.js';
import type { AgentRow, AgentVersionRow, Store } from '../store/types.js';
import { base64Size, decodeBase64 } from './codec.js';
import { notFoundAt } from './ids.js';
import { checkLimits, type LimitsInput } from './limits.input.js';
import type { Quotas } from './quota.js';

export const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_DESCRIPTION = 1000;
const DIGEST = /^[0-9a-f]{64}$/;

export interface AgentSource {
  name: string;
  description?: string | null;
  wasmBase64?: string | null;
  wat?: string | null;
  moduleDigest?: string | null;
  defaultLimits?: LimitsInput | null;
}

interface Deps {
  config: Config;
  store: Store;
  runtime: Runtime;
  /** QUOTA_STORED_BYTES; absent = unchecked (the demo agent at start-up). */
  quotas?: Quotas;
  /** Told about the new version, so this node's next submit uses it at once. */
  agentCache?: AgentCache;
}

let wabt: ReturnType<typeof wabtInit> | undefined;

/** WebAssembly text → binary with wabt; a syntax or validation error names the line. */
export async function compileWat(field: string, text: string): Promise<Uint8Array> {
  const w = await (wabt ??= wabtInit());
  let mod: ReturnType<Awaited<ReturnType<typeof wabtInit>>['parseWat']> | undefined;
  try {
    mod = w.parseWat('agent.wat', text);
    mod.resolveNames();
    mod.validate();
    return mod.toBinary({}).buffer;
  } catch (err) {
    throw badInput(field, `does not compile: ${String((err as Error).message ?? err).trim()}`);
  } finally {
    mod?.destroy();
  }
}

export async function registerAgent(deps: Deps, tenantId: string, input: AgentSource, field = 'input'): Promise<{ agent: AgentRow; version: AgentVersionRow }> {
  const { config, store, runtime } = deps;
  if (!AGENT_NAME.test(input.name)) {
    throw badInput(`${field}.name`, 'must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  if (input.description != null && input.description.length > MAX_DESCRIPTION) {
    throw badInput(`${field}.description`, `must be at most ${MAX_DESCRIPTION} characters`);
  }
  const given = (['wasmBase64', 'wat', 'moduleDigest'] as const).filter((k) => input[k] != null);
  if (given.length !== 1) {
    throw badInput(field, `exactly one of wasmBase64, wat, moduleDigest must be given (got ${given.length ? given.join(', ') : 'none'})`);
  }
  const source = given[0]!;
  const sourceField = `${field}.${source}`;
  const defaultLimits = checkLimits(`${field}.defaultLimits`, input.defaultLimits, config);

  let bytes: Uint8Array;
  let stored = false;
  if (source === 'moduleDigest') {
    const digest = input.moduleDigest!.trim().toLowerCase();
    if (!DIGEST.test(digest)) throw badInput(sourceField, 'must be a sha256 digest (64 hex characters) as returned by POST /modules');
    // Only a module this tenant uploaded: a digest alone must not reach another tenant's bytes.
    const found = (await store.modules.get(tenantId, digest)) ? await store.blobs.get(digest) : null;
    if (!found) throw notFoundAt(sourceField, 'module', digest);
    bytes = found;
    stored = true;
  } else if (source === 'wasmBase64') {
    const size = base64Size(input.wasmBase64!);
    if (size > config.maxModuleBytes) throw tooLarge(sourceField, size, config.maxModuleBytes);
    bytes = decodeBase64(sourceField, input.wasmBase64!);
  } else {
    bytes = await compileWat(sourceField, input.wat!);
  }
  if (bytes.length > config.maxModuleBytes) throw tooLarge(sourceField, bytes.length, config.maxModuleBytes);

  const info = await inspectModule(runtime, sourceField, bytes);
  if (!stored) await deps.quotas?.checkStore(tenantId, info.digest, bytes.length);
  const digest = stored ? info.digest : await store.blobs.put(bytes);
  if (!stored) await store.modules.record(tenantId, digest, bytes.length);
  const registered = await store.agents.registerVersion({
    tenantId,
    name: input.name,
    description: input.description ?? null,
    moduleDigest: digest,
    moduleSize: bytes.length,
    imports: info.imports,
    exports: info.exports,
    memoryInitialPages: info.memory?.initialPages ?? null,
    memoryMaximumPages: info.memory?.maximumPages ?? null,
    defaultLimits,
  });
  deps.agentCache?.invalidate(tenantId);
  return registered;
}

/** runtime.inspect with the field named in its INVALID_MODULE message. */
export async function inspectModule(runtime: Runtime, field: string, bytes: Uint8Array) {
  try {
    return await runtime.inspect(bytes);
  } catch (err) {
    if (err instanceof SpindleError) throw new SpindleError(err.code, `${field}: ${err.message}`, { ...err.details, field });
    throw err;
  }
}

const tooLarge = (field: string, size: number, max: number) =>
  new SpindleError('LIMIT_EXCEEDED', `${field}: module is ${size} bytes; the maximum is ${max} bytes (MAX_MODULE_BYTES); upload large modules with POST /modules`, {
    field,
    size,
    max,
    quota: 'MAX_MODULE_BYTES',
    limit: String(max),
  });
