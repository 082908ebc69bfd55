/**
 * Agents: register (a new agent, or a new version of one: the name and the module source checked,
 * WAT compiled, the module inspected by the runtime and stored), delete (soft), and the reads.
 * Every read is scoped to the caller's tenant; any role may read, registering and deleting need a
 * submitter.
 */
import type { Config } from '../config/index.js';
import { badInput, isUuid, SpindleError, type Limits, type Principal, type Requested } from '../domain/index.js';
import type { Runtime } from '../runtime/types.js';
import type { AgentBuildRow, AgentRow, AgentVersionRow, Store } from '../store/index.js';
import type { AgentCache } from './agent.cache.js';
import { checkConcurrencyLimit, makeAgentControls, type AgentControls } from './agent.controls.js';
import { requireRole } from './auth.service.js';
import { base64Size, decodeBase64 } from './codec.js';
import { checkId, notFoundAt } from './ids.js';
import { checkLimits, resolveLimits } from './limits.js';
import { presentBuild, type BuildJobs } from './build.jobs.js';
import type { BuildService, BuiltModule, SourceParams } from './build.service.js';
import { compileWat, inspectModule, type ModuleInfo, type ModuleService } from './module.service.js';

export const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_DESCRIPTION = 1000;
const DIGEST = /^[0-9a-f]{64}$/;

/** An agent as a caller registers it: exactly one of wasmBase64, wat, moduleDigest. */
export interface RegisterAgentParams {
  name: string;
  description?: string | null;
  wasmBase64?: string | null;
  wat?: string | null;
  moduleDigest?: string | null;
  /** Source to build the module from (build.service.ts). */
  source?: SourceParams | null;
  defaultLimits?: Requested<Limits> | null;
  /** At most this many of the agent's tasks held at once (1..10000); absent or null = left as it is. */
  concurrencyLimit?: number | null;
}

export interface AgentService extends AgentControls {
  /** The tenant's agents, by name. */
  list(caller: Principal): Promise<AgentRow[]>;
  /** One agent by id or by name: exactly one of them (BAD_USER_INPUT naming `id` otherwise). */
  get(caller: Principal, by: { id?: string | null; name?: string | null }): Promise<AgentRow | null>;
  /** An agent by id or name (an id first, then the same text as a name), or null. */
  find(caller: Principal, idOrName: string): Promise<AgentRow | null>;
  /** Like find, NOT_FOUND naming `field` when there is none. */
  require(caller: Principal, field: string, idOrName: string): Promise<AgentRow>;
  /** Registers an agent, or a new version of an existing one (same name). `field` names the input in errors. */
  register(caller: Principal, input: RegisterAgentParams, field?: string): Promise<{ agent: AgentRow; version: AgentVersionRow; built?: BuiltModule }>;
  /**
   * buildAgent: records a build of `input.source` and runs it in the background (registering the
   * agent as registerAgent would); the build as recorded (QUEUED). What registerAgent would refuse
   * at once (name, limits, the source's files) is refused here the same way.
   */
  startBuild(caller: Principal, input: RegisterAgentParams, field?: string): Promise<AgentBuildRow>;
  /** One of the caller's builds, or null (one whose node stopped reads as FAILED). */
  getBuild(caller: Principal, id: string): Promise<AgentBuildRow | null>;
  /** Deletes an agent by id or name (soft: its tasks and versions stay readable); false when there was none. */
  delete(caller: Principal, idOrName: string): Promise<boolean>;
  /** Version `n` of one of the caller's agents, or its latest when n is absent. */
  version(caller: Principal, agent: AgentRow, n?: number): Promise<AgentVersionRow | null>;
  /** All versions of one of the caller's agents, oldest first. */
  versions(caller: Principal, agent: AgentRow): Promise<AgentVersionRow[]>;
  /** What a task of this version gets unless it sets its own limits: the version's defaults over the server's. */
  defaultLimits(version: AgentVersionRow): Limits;
  /** The caller's agents among `ids` (a batch of lookups: one list when there are several). */
  byIds(caller: Principal, ids: string[]): Promise<Map<string, AgentRow>>;
  /** The caller's agent versions among `ids`. */
  versionsByIds(caller: Principal, ids: string[]): Promise<Map<string, AgentVersionRow>>;
}

export interface AgentDeps {
  config: Config;
  store: Store;
  runtime: Runtime;
  modules: ModuleService;
  builds: BuildService;
  /** The node's background builds (buildAgent), and who hears of their changes. */
  jobs: BuildJobs;
  onBuildUpdated: (build: AgentBuildRow) => void;
  /** Told about every change, so this node's next submit sees it at once. */
  agentCache: AgentCache;
}

export function makeAgentService(deps: AgentDeps): AgentService {
  const { config, store, runtime, modules, builds, jobs, onBuildUpdated, agentCache } = deps;
  const mine = <T extends { tenantId: string }>(caller: Principal, row: T | null): T | null => (row && row.tenantId === caller.tenantId ? row : null);

  const find = async (caller: Principal, idOrName: string): Promise<AgentRow | null> => {
    const { agents } = store;
    if (isUuid(idOrName)) return (await agents.get(caller.tenantId, idOrName.toLowerCase())) ?? agents.getByName(caller.tenantId, idOrName);
    return agents.getByName(caller.tenantId, idOrName);
  };

  /** What registerAgent and buildAgent refuse before doing anything: name, description, one source, limits. */
  function checkRegistration(input: RegisterAgentParams, field: string) {
    if (!AGENT_NAME.test(input.name)) {
      throw badInput(`${field}.name`, 'must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit');
    }
    if (input.description != null && input.description.length > MAX_DESCRIPTION) {
      throw badInput(`${field}.description`, `must be at most ${MAX_DESCRIPTION} characters`);
    }
    const given = (['wasmBase64', 'wat', 'moduleDigest', 'source'] as const).filter((k) => input[k] != null);
    if (given.length !== 1) {
      throw badInput(field, `exactly one of wasmBase64, wat, moduleDigest, source must be given (got ${given.length ? given.join(', ') : 'none'})`);
    }
    const source = given[0]!;
    return {
      source,
      sourceField: `${field}.${source}`,
      defaultLimits: checkLimits(`${field}.defaultLimits`, input.defaultLimits, config),
      concurrencyLimit: checkConcurrencyLimit(`${field}.concurrencyLimit`, input.concurrencyLimit),
    };
  }

  const requireAgent = async (caller: Principal, field: string, idOrName: string): Promise<AgentRow> => {
    const agent = await find(caller, idOrName);
    if (!agent) throw notFoundAt(field, 'agent', idOrName);
    return agent;
  };

  return {
    ...makeAgentControls({ store, require: requireAgent }),

    async list(caller) {
      const rows = await store.agents.list(caller.tenantId);
      return [...rows].sort((a, b) => a.name.localeCompare(b.name));
    },

    async get(caller, { id, name }) {
      if ((id == null) === (name == null)) throw badInput('id', 'exactly one of id and name must be given');
      if (id != null) return store.agents.get(caller.tenantId, checkId('id', id));
      return store.agents.getByName(caller.tenantId, name!);
    },

    find,

    require: requireAgent,

    async register(caller, input, field = 'input') {
      requireRole(caller, 'submitter', 'registerAgent');
      const { tenantId } = caller;
      const { source, sourceField, defaultLimits, concurrencyLimit } = checkRegistration(input, field);

      let module: { digest: string; info: ModuleInfo; size: number };
      let built: BuiltModule | undefined;
      if (source === 'source') {
        module = built = await builds.build(tenantId, sourceField, input.source!);
      } else if (source === 'moduleDigest') {
        const digest = input.moduleDigest!.trim().toLowerCase();
        if (!DIGEST.test(digest)) throw badInput(sourceField, 'must be a sha256 digest (64 hex characters) as returned by POST /modules');
        // Only a module this tenant uploaded: a digest alone must not reach another tenant's bytes.
        const bytes = (await store.modules.get(tenantId, digest)) ? await store.blobs.get(digest) : null;
        if (!bytes) throw notFoundAt(sourceField, 'module', digest);
        checkSize(sourceField, bytes.length, config.maxModuleBytes);
        const info = await inspectModule(runtime, config, sourceField, bytes);
        module = { digest: info.digest, info, size: bytes.length };
      } else {
        let bytes: Uint8Array;
        if (source === 'wasmBase64') {
          checkSize(sourceField, base64Size(input.wasmBase64!), config.maxModuleBytes);
          bytes = decodeBase64(sourceField, input.wasmBase64!);
        } else {
          bytes = await compileWat(sourceField, input.wat!);
        }
        checkSize(sourceField, bytes.length, config.maxModuleBytes);
        module = { ...(await modules.add(tenantId, sourceField, bytes)), size: bytes.length };
      }

      const registered = await store.agents.registerVersion({
        tenantId,
        name: input.name,
        description: input.description ?? null,
        moduleDigest: module.digest,
        moduleSize: module.size,
        imports: module.info.imports,
        exports: module.info.exports,
        memoryInitialPages: module.info.memory?.initialPages ?? null,
        memoryMaximumPages: module.info.memory?.maximumPages ?? null,
        defaultLimits,
        concurrencyLimit,
      });
      agentCache.invalidate(tenantId);
      return { ...registered, built };
    },

    async startBuild(caller, input, field = 'input') {
      requireRole(caller, 'submitter', 'buildAgent');
      if (input.source == null) throw badInput(`${field}.source`, 'buildAgent builds from source: give source (or use registerAgent)');
      // What registerAgent would refuse at once is refused here, before a build is recorded.
      checkRegistration(input, field);
      builds.check(`${field}.source`, input.source);
      const created = await store.agentBuilds.create({ tenantId: caller.tenantId, agentName: input.name, language: input.source.language, node: config.nodeId });
      const update = async (change: Parameters<Store['agentBuilds']['update']>[1]) => onBuildUpdated(await store.agentBuilds.update(created.id, change));
      jobs.run(created.id, async () => {
        await update({ status: 'RUNNING', startedAt: new Date() });
        try {
          const { agent, version, built } = await this.register(caller, input, field);
          await update({ status: 'SUCCEEDED', finishedAt: new Date(), agentId: agent.id, agentVersion: version.version, cached: built?.cached ?? false, log: built?.log ?? '', diagnostics: built?.diagnostics ?? [] });
        } catch (err) {
          const details = err instanceof SpindleError ? err.details : {};
          await update({
            status: 'FAILED',
            finishedAt: new Date(),
            error: err instanceof SpindleError ? err.message : 'the build failed on the server (see its logs)',
            log: typeof details.log === 'string' ? details.log : '',
            diagnostics: Array.isArray(details.diagnostics) ? (details.diagnostics as AgentBuildRow['diagnostics']) : [],
          });
          if (!(err instanceof SpindleError)) throw err;
        }
      });
      return created;
    },

    async getBuild(caller, id) {
      const row = await store.agentBuilds.get(caller.tenantId, id);
      return row && presentBuild(row);
    },

    async delete(caller, idOrName) {
      requireRole(caller, 'submitter', 'deleteAgent');
      const agent = await find(caller, idOrName);
      if (!agent) return false;
      const deleted = await store.agents.delete(caller.tenantId, agent.id);
      agentCache.invalidate(caller.tenantId);
      return deleted;
    },

    async version(caller, agent, n) {
      return agent.tenantId === caller.tenantId ? store.agents.version(agent.id, n) : null;
    },

    async versions(caller, agent) {
      return agent.tenantId === caller.tenantId ? store.agents.versions(agent.id) : [];
    },

    defaultLimits: (version) => resolveLimits({}, version.defaultLimits, config),

    async byIds(caller, ids) {
      // A page of tasks names few agents; with more than one, one list() beats a get() per agent.
      const listed = ids.length > 1 ? await store.agents.list(caller.tenantId) : [];
      const found = new Map(listed.filter((a) => ids.includes(a.id)).map((a) => [a.id, a] as [string, AgentRow]));
      const rest = ids.filter((id) => !found.has(id));
      for (const a of await Promise.all(rest.map((id) => store.agents.get(caller.tenantId, id)))) if (a) found.set(a.id, a);
      return found;
    },

    async versionsByIds(caller, ids) {
      const versions = await Promise.all(ids.map(async (id) => mine(caller, await store.agents.getVersion(id))));
      return new Map(versions.filter((v) => v !== null).map((v) => [v.id, v]));
    },
  };
}

const checkSize = (field: string, size: number, max: number) => {
  if (size > max) {
    throw new SpindleError('LIMIT_EXCEEDED', `${field}: module is ${size} bytes; the maximum is ${max} bytes (MAX_MODULE_BYTES); upload large modules with POST /modules`, {
      field,
      size,
      max,
      quota: 'MAX_MODULE_BYTES',
      limit: String(max),
    });
  }
};
