/**
 * The runtime's public contract (DESIGN.md §3). The runtime knows nothing of tasks, GraphQL or
 * storage: it runs one module with one request and classifies how it ended.
 */
import type { FileEntry, Limits, Mount, OutcomeKind, TrapInfo } from '../domain/index.js';
import type { BuildRequest, BuildResult, SourceLanguage } from './build/types.js';

/** A module to run, identified by the sha256 (hex) of its original bytes. */
export interface ModuleRef {
  digest: string;
  /** Original bytes. Needed the first time a digest is seen; afterwards the compiled module is cached. */
  bytes?: Uint8Array;
}

export interface DeterministicOptions {
  /** Seed for random_get (any 53-bit safe integer). */
  seed: number;
  /** What the realtime clock reads at the first call, in ms since the Unix epoch. */
  epochMs: number;
}

export interface RunRequest {
  module: ModuleRef;
  /** argv[0] as the guest sees it; defaults to "main.wasm". */
  argv0?: string;
  /** Arguments after argv[0]. */
  args: string[];
  env: Record<string, string>;
  stdin: Uint8Array;
  /**
   * Input files, empty directories and symlinks of the in-memory filesystem; paths absolute (or
   * relative to "/"), each inside a mount.
   */
  files?: FileEntry[];
  /** Preopened directories, fd 3 on in this order; default "/" alone, writable. [] = none. */
  mounts?: Mount[];
  limits: Limits;
  deterministic?: DeterministicOptions;
}

export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  /** Where `data` starts in its stream: a run's chunks of a stream follow each other without gap or overlap. */
  offset: number;
  data: Uint8Array;
}

export interface RunOutcome {
  kind: OutcomeKind;
  /** The guest's exit code for 'exited'; null otherwise. */
  exitCode: number | null;
  stdout: Uint8Array;
  stderr: Uint8Array;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** Files the guest created or modified (final contents), sorted by path. */
  files: FileEntry[];
  trap?: TrapInfo;
  /** Human-readable detail for invalid_module, host_error, memory_limit, output_limit. */
  error?: string;
  /** Time spent compiling (0 when the compiled module came from the cache). */
  compileMs: number;
  /** Wall-clock time from instantiation to the end of the run. */
  runMs: number;
  /** Fuel consumed, when limits.fuel was set. */
  fuelUsed?: bigint;
  /** Size of the guest's linear memory at the end of the run. */
  memoryPeakBytes: number;
}

export type ImportKind = 'function' | 'table' | 'memory' | 'global' | 'tag';

/** The sorts of a component's imports and exports (component/world.ts). */
export type ComponentSort = 'core-module' | 'func' | 'value' | 'type' | 'component' | 'instance';

export interface ModuleInfo {
  digest: string;
  size: number;
  /** A core module (WASI preview 1) or a WASI 0.2 component. */
  format: 'module' | 'component';
  /** A component's are its world's: the interface name as `module`, `name` empty, the sort as `kind`. */
  imports: { module: string; name: string; kind: ImportKind | ComponentSort }[];
  exports: { name: string; kind: ImportKind | ComponentSort }[];
  /** The module's (first) memory, defined or imported; null when it has none. */
  memory: { initialPages: number; maximumPages: number | null; imported: boolean } | null;
  /** Initial elements of all its tables (defined or imported) together: what instantiating it allocates for them. */
  tableElements: number;
  /** Exports `_start`: a WASI command. */
  isCommand: boolean;
}

export interface PoolStats {
  /** Configured number of task workers. */
  workers: number;
  busy: number;
  idle: number;
  /** Warm spares ready to replace a terminated worker. */
  spares: number;
  /** Requests waiting for a free worker. */
  queued: number;
  tasksRun: number;
  /** Workers terminated (timeout, cancel, death) and replaced. */
  workersReplaced: number;
  compiledModules: number;
}

/**
 * How a run is cancelled: what the runtime reads of an AbortSignal. A standard AbortSignal fits;
 * the executor passes its own lighter one (executor/abort.ts), because in Node 20 an
 * AbortController and its signal cost ~6 µs per run, a few per cent of a task's CPU.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface Runtime {
  /**
   * Validate and inspect a module for registration. Throws an InvalidModuleError (domain
   * SpindleError with code INVALID_MODULE) naming the reason: malformed bytes, not a command,
   * an import the host does not provide, an unsupported feature.
   */
  inspect(bytes: Uint8Array): Promise<ModuleInfo>;
  /** Compile (and cache) ahead of the first run. */
  prepare(module: ModuleRef): Promise<void>;
  /**
   * Never rejects: every end is an outcome. `onStart` is called when a worker takes the run up
   * (its deadline starts then; a run prefetched by a busy worker has not started). It is not
   * called for a run that ends before reaching a worker (invalid module, cancelled while queued),
   * and may be called again if the run had to be handed to a fresh worker.
   */
  run(req: RunRequest, signal?: CancelSignal, onOutput?: (chunk: OutputChunk) => void, onStart?: () => void): Promise<RunOutcome>;
  /**
   * Build a module from source in a tool thread (build/builder.ts). Never rejects for the
   * source's sake: a failed build is a result with its log and diagnostics.
   */
  build(req: BuildRequest): Promise<BuildResult>;
  /** The compiler (and version) `language` builds with: part of a build's cache key. */
  compiler(language: SourceLanguage): string;
  stats(): PoolStats;
  /** Terminate all workers. In-flight runs end as 'cancelled'. */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Number of task workers (default: available cores). */
  workers: number;
  /** Compiled modules kept in memory (LRU by digest). */
  moduleCacheSize?: number;
  /**
   * Most elements a module's tables may hold together, initially or grown (MAX_TABLE_ELEMENTS;
   * default 1,000,000): past it `table.grow` returns -1, as a table at its declared maximum does.
   */
  maxTableElements?: number;
  /**
   * How often running guests' output is handed to onOutput (default 50 ms): output written
   * reaches the listener within about this long, even if the guest never calls the host again.
   */
  outputFlushMs?: number;
  /** Builds from source at once on this node (BUILD_CONCURRENCY, default 1); more wait in order. */
  buildConcurrency?: number;
  /** A build that takes longer fails (BUILD_TIMEOUT_MS, default 60 s). */
  buildTimeoutMs?: number;
}
