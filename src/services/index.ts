/**
 * The use cases of the API, transport-free: GraphQL resolvers and POST /modules are thin adapters
 * over them (STYLE §11). Each takes the caller (domain Principal: tenant and role) and plain
 * inputs, checks the caller's role, validates what needs I/O (agents, quotas, module bytes),
 * throws domain errors (SpindleError) and returns store rows. They see the store only through its
 * interfaces (store/index.ts), never Prisma or minio.
 *
 * makeServices builds them once per node, with the state a node keeps (the API key cache, the
 * agent cache of the submit path, quota buckets, cached stats). `forRequest()` gives one API
 * request its own set over its own view of the store (store/per-request.ts: its reads go a few
 * at a time), sharing that node state, with a logger that puts the request's id on every line.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Executor } from '../executor/types.js';
import type { Runtime } from '../runtime/types.js';
import { forRequest, type AgentBuildRow, type Store } from '../store/index.js';
import { makeAgentCache, type AgentCache } from './agent.cache.js';
import { makeAgentService, type AgentService } from './agent.service.js';
import { makeBuildJobs, type BuildJobs } from './build.jobs.js';
import { makeBuildService } from './build.service.js';
import { makeAuthenticator, type Authenticator } from './auth.service.js';
import { makeKeyService, type KeyService } from './key.service.js';
import { makeModuleService, type ModuleService } from './module.service.js';
import { makeQuotas, type Quotas } from './quota.service.js';
import { makeStatsService, type StatsService } from './stats.service.js';
import { makeTaskService, type TaskService } from './task.service.js';
import { makeTenantService, type TenantService } from './tenant.service.js';

export interface ServiceDeps {
  config: Config;
  store: Store;
  runtime: Runtime;
  executor: Executor;
  logger: Logger;
  /** Counts accepted submissions (metrics). */
  onSubmitted?: (created: number) => void;
  /** Traces are on: a submit stores the active trace context with its tasks (task.submit.ts). */
  traced?: boolean;
  /** Told about every change of a build asked for with buildAgent (the bus: buildUpdated). */
  onBuildUpdated?: (build: AgentBuildRow) => void;
}

export interface Services {
  /** Who is calling (API keys, cached per node). */
  readonly auth: Authenticator;
  readonly agents: AgentService;
  readonly tasks: TaskService;
  readonly tenants: TenantService;
  readonly keys: KeyService;
  readonly modules: ModuleService;
  readonly stats: StatsService;
  readonly quotas: Quotas;
  /**
   * One API request's services: its reads of tasks and agents go a few at a time, and the lines
   * they log carry `requestId` (the transport's, see server/request-log.ts) when given.
   */
  forRequest(requestId?: string): Services;
}

export function makeServices(deps: ServiceDeps): Services {
  const { config, store, executor, logger } = deps;
  const stats = makeStatsService({ store, executor, node: config.nodeId, countExactMax: config.countExactMax });
  const quotas = makeQuotas({ config, store, stats });
  const auth = makeAuthenticator({ store, enabled: config.auth.enabled, onTouchError: (err) => logger.warn({ err }, 'could not record an API key use') });
  const buildJobs = makeBuildJobs(store, (err) => logger.error({ err }, 'a build from source failed on the server'));
  return new ServiceSet({ ...deps, stats, quotas, auth, agentCache: makeAgentCache(store), buildJobs }, store, undefined);
}

/** The node's state, shared by every request. */
interface NodeState extends ServiceDeps {
  stats: StatsService;
  quotas: Quotas;
  auth: Authenticator;
  agentCache: AgentCache;
  buildJobs: BuildJobs;
}

/**
 * Services over one view of the store. Every GraphQL operation gets a set and most use one or two
 * of them, so each is made on first use (a class: its getters cost nothing per set, where an
 * object literal with getters tripled the cost of making one).
 */
class ServiceSet implements Services {
  #modules?: ModuleService;
  #agents?: AgentService;
  #tasks?: TaskService;
  #tenants?: TenantService;
  #keys?: KeyService;
  #logger?: Logger;

  constructor(
    private readonly node: NodeState,
    private readonly view: Store,
    private readonly requestId: string | undefined,
  ) {}

  /** The node's logger, or the request's (made with the first service that logs, not for every request). */
  private get logger(): Logger {
    return (this.#logger ??= this.requestId === undefined ? this.node.logger : this.node.logger.child({ requestId: this.requestId }));
  }

  get auth() {
    return this.node.auth;
  }
  get stats() {
    return this.node.stats;
  }
  get quotas() {
    return this.node.quotas;
  }
  get modules() {
    const { config, runtime, quotas } = this.node;
    return (this.#modules ??= makeModuleService({ config, store: this.view, runtime, quotas, logger: this.logger }));
  }
  get agents() {
    const { config, runtime, agentCache } = this.node;
    const { buildJobs, onBuildUpdated } = this.node;
    return (this.#agents ??= makeAgentService({
      config, store: this.view, runtime, modules: this.modules, agentCache,
      jobs: buildJobs, onBuildUpdated: onBuildUpdated ?? (() => {}),
      builds: makeBuildService({ config, store: this.view, runtime, modules: this.modules }),
    }));
  }
  get tasks() {
    return (this.#tasks ??= this.makeTasks());
  }
  private makeTasks(): TaskService {
    const { config, executor, quotas, agentCache, onSubmitted, traced } = this.node;
    const agents = () => this.agents;
    return makeTaskService({
      config, store: this.view, executor, quotas, agentCache, onSubmitted, traced, logger: this.logger,
      // Made when a task filter names an agent, not with every task service (~15 µs a submit did not need).
      get agents() {
        return agents();
      },
    });
  }
  get tenants() {
    const { config, quotas } = this.node;
    return (this.#tenants ??= makeTenantService({ config, store: this.view, quotas, logger: this.logger }));
  }
  get keys() {
    return (this.#keys ??= makeKeyService({ store: this.view, auth: this.node.auth, logger: this.logger }));
  }
  forRequest(requestId?: string): Services {
    return new ServiceSet(this.node, forRequest(this.node.store), requestId);
  }
}

export type { AgentService, RegisterAgentParams } from './agent.service.js';
export type { Authenticator } from './auth.service.js';
export type { KeyService, CreateApiKeyParams } from './key.service.js';
export type { ModuleService, UploadedModule } from './module.service.js';
export type { Quotas, QuotaOverridesParams } from './quota.service.js';
export type { StatsService, StatsSnapshot } from './stats.service.js';
export type { SubmitTaskParams, FileParams, MountParams } from './task.check.js';
export type { TaskService, TaskFilterParams, TaskEventFilterParams, TaskEventFilter, BulkSelection } from './task.service.js';
export { MAX_SEARCH, MIN_SEARCH } from './task.service.js';
export { MAX_BULK_IDS, type BulkResult } from './task.bulk.js';
export type { TenantService, CallerInfo, TenantQuotaView } from './tenant.service.js';
