/**
 * Agents built from source (registerAgent with `source`): the source is checked (files, paths,
 * size), looked up in the tenant's build cache by the digest of its inputs, else built by the
 * runtime in a tool thread (runtime/build), and the module it made registered like an upload.
 * A failed build answers BUILD_FAILED with the compiler's diagnostics (file, line, column,
 * message) and its log; nothing is stored for it.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../config/index.js';
import { badInput, SpindleError } from '../domain/index.js';
import type { Diagnostic, Runtime, SourceLanguage } from '../runtime/index.js';
import type { Store } from '../store/index.js';
import type { ModuleInfo, ModuleService } from './module.service.js';

export interface SourceParams {
  language: SourceLanguage;
  /** The first file is the entry. */
  files: { path: string; text: string }[];
}

/** Most files in one build. */
export const MAX_SOURCE_FILES = 64;
/** Longest path of a source file. */
export const MAX_SOURCE_PATH = 256;
/** Relative, `/`-separated segments of letters, digits, `_`, `-` and `.` (not starting with `.`). */
const SOURCE_PATH = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;
/** The extensions a language's files may have (AssemblyScript's compiler reads only `.ts`). */
const EXTENSIONS: Record<SourceLanguage, readonly string[]> = {
  assemblyscript: ['.ts'],
  c: ['.c', '.h'],
  cpp: ['.cpp', '.cc', '.cxx', '.c', '.hpp', '.hh', '.hxx', '.h'],
};

export interface BuildDeps {
  config: Config;
  store: Store;
  runtime: Runtime;
  modules: ModuleService;
}

export interface BuiltModule {
  digest: string;
  info: ModuleInfo;
  size: number;
  /** Taken from the tenant's build cache (the same inputs were built before). */
  cached: boolean;
  /** The compiler's log and diagnostics (warnings), of this build or the cached one. */
  log: string;
  diagnostics: Diagnostic[];
}

export interface BuildService {
  build(tenantId: string, field: string, source: SourceParams): Promise<BuiltModule>;
  /** Refuses a source beyond its limits (files, paths, MAX_SOURCE_BYTES), naming the field. */
  check(field: string, source: SourceParams): void;
}

export function makeBuildService({ config, store, runtime, modules }: BuildDeps): BuildService {
  function check(field: string, source: SourceParams): void {
    const extensions = EXTENSIONS[source.language];
    if (!extensions) throw badInput(`${field}.language`, `must be ASSEMBLYSCRIPT, C or CPP (got ${String(source.language)})`);
    const files = source.files;
    if (files.length === 0) throw badInput(`${field}.files`, 'must hold at least one file (the first is the entry)');
    if (files.length > MAX_SOURCE_FILES) throw badInput(`${field}.files`, `at most ${MAX_SOURCE_FILES} files (got ${files.length})`, { max: MAX_SOURCE_FILES });
    const seen = new Set<string>();
    let bytes = 0;
    files.forEach((f, i) => {
      const at = `${field}.files[${i}].path`;
      if (f.path.length > MAX_SOURCE_PATH) throw badInput(at, `at most ${MAX_SOURCE_PATH} characters (got ${f.path.length})`, { max: MAX_SOURCE_PATH });
      if (!SOURCE_PATH.test(f.path) || !extensions.some((e) => f.path.endsWith(e))) {
        throw badInput(at, `must be a relative path of letters, digits, "_", "-" and "." segments (none starting with ".") ending in ${extensions.join(', ')}`);
      }
      if (seen.has(f.path)) throw badInput(at, `${JSON.stringify(f.path)} is given twice`);
      seen.add(f.path);
      bytes += Buffer.byteLength(f.text, 'utf8');
    });
    const max = config.build.maxSourceBytes;
    if (bytes > max) {
      throw new SpindleError('LIMIT_EXCEEDED', `${field}.files: the source is ${bytes} bytes; the maximum is ${max} (MAX_SOURCE_BYTES)`, { field: `${field}.files`, quota: 'MAX_SOURCE_BYTES', limit: String(max) });
    }
  }

  return {
    check,
    async build(tenantId, field, source) {
      check(field, source);
      const compiler = runtime.compiler(source.language);
      const inputDigest = createHash('sha256')
        .update(JSON.stringify({ language: source.language, compiler, files: source.files.map((f) => [f.path, f.text]) }))
        .digest('hex');
      const cached = await store.builds.get(tenantId, inputDigest);
      const bytes = cached && (await store.blobs.get(cached.moduleDigest));
      if (cached && bytes) {
        const { digest, info } = await modules.add(tenantId, field, bytes);
        return { digest, info, size: bytes.length, cached: true, log: cached.log, diagnostics: cached.diagnostics as Diagnostic[] };
      }
      const result = await runtime.build({ language: source.language, files: source.files });
      if (!result.ok) throw buildFailed(field, result.diagnostics, result.log);
      if (result.wasm.length > config.maxModuleBytes) {
        throw new SpindleError('LIMIT_EXCEEDED', `${field}: the built module is ${result.wasm.length} bytes; the maximum is ${config.maxModuleBytes} (MAX_MODULE_BYTES)`, { field, quota: 'MAX_MODULE_BYTES', limit: String(config.maxModuleBytes) });
      }
      const { digest, info } = await modules.add(tenantId, field, result.wasm);
      await store.builds.record(tenantId, { inputDigest, moduleDigest: digest, language: source.language, compiler, log: result.log, diagnostics: result.diagnostics, buildMs: result.buildMs });
      return { digest, info, size: result.wasm.length, cached: false, log: result.log, diagnostics: result.diagnostics };
    },
  };
}

function buildFailed(field: string, diagnostics: Diagnostic[], log: string): SpindleError {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const first = errors[0] ?? diagnostics[0];
  const where = first?.file ? `${first.file}${first.line !== null ? `:${first.line}:${first.column}` : ''}: ` : '';
  const summary = first ? `${where}${first.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}` : log.trim().split('\n')[0] || 'the compiler gave no reason';
  return new SpindleError('BUILD_FAILED', `${field}: the build failed: ${summary}`, { field, diagnostics, log });
}
