/**
 * Modules: the bytes of agents, stored once by content (sha256) and recorded per tenant, so that
 * QUOTA_STORED_BYTES counts what a tenant stored and a digest alone never reaches another
 * tenant's module. Two ways in: bytes a registerAgent carries (`add`), and an upload streamed
 * into the blob store (`upload`, the HTTP POST /modules), for modules too large for a GraphQL
 * request. Both check the module with the runtime (INVALID_MODULE with its reason) and against
 * what a run can give it (MAX_MEMORY_BYTES, MAX_TABLE_ELEMENTS: LIMIT_EXCEEDED) before a tenant holds it.
 */
import type { Config } from '../config/index.js';
import { badInput, SpindleError, type Principal } from '../domain/index.js';
import type { Runtime } from '../runtime/types.js';
import { watToWasm } from '../runtime/module/wat.js';
import type { Store } from '../store/index.js';
import { requireRole } from './auth.service.js';
import type { Quotas } from './quota.service.js';

export type ModuleInfo = Awaited<ReturnType<Runtime['inspect']>>;

/** What POST /modules answers: the digest goes to registerAgent(input: {moduleDigest}). */
export interface UploadedModule {
  digest: string;
  size: number;
  imports: ModuleInfo['imports'];
  exports: ModuleInfo['exports'];
}

export interface ModuleService {
  /**
   * Streams an upload into the blob store, then checks it. `openBody` is called once the caller
   * may upload, before any limit is checked (the transport refuses a body it cannot read there);
   * `declaredBytes` is the size the caller announced, if any. The errors: FORBIDDEN (role),
   * LIMIT_EXCEEDED (MAX_MODULE_BYTES, QUOTA_STORED_BYTES), BAD_USER_INPUT (empty), INVALID_MODULE.
   */
  upload(caller: Principal, openBody: () => AsyncIterable<Uint8Array>, declaredBytes: number | null): Promise<UploadedModule>;
  /**
   * Checks module bytes (INVALID_MODULE naming `field`), then stores and records them for the
   * tenant within its quota. For registerAgent; the caller's role was checked.
   */
  add(tenantId: string, field: string, bytes: Uint8Array): Promise<{ digest: string; info: ModuleInfo }>;
}

export interface ModuleDeps {
  config: Config;
  store: Store;
  runtime: Runtime;
  quotas: Quotas;
  /** Logs a blob that could not be deleted. */
  logger: { warn(obj: object, msg: string): void };
}

export function makeModuleService({ config, store, runtime, quotas, logger }: ModuleDeps): ModuleService {
  const max = config.maxModuleBytes;
  const tooLarge = () =>
    new SpindleError('LIMIT_EXCEEDED', `module exceeds the maximum of ${max} bytes (MAX_MODULE_BYTES)`, { field: 'body', max, quota: 'MAX_MODULE_BYTES', limit: String(max) });

  return {
    async upload(caller, openBody, declaredBytes) {
      requireRole(caller, 'submitter', 'uploading a module');
      const body = openBody();
      if (declaredBytes !== null && declaredBytes > max) throw tooLarge();
      // Before a byte is stored: a tenant at its quota cannot leave blobs behind. Without a
      // declared size the upload may be as large as MAX_MODULE_BYTES, so that much room is needed.
      await quotas.checkStore(caller.tenantId, null, declaredBytes ?? max);
      let stored: { digest: string; size: number };
      try {
        stored = await store.blobs.putStream(body, max);
      } catch (err) {
        throw err instanceof SpindleError && err.code === 'LIMIT_EXCEEDED' ? tooLarge() : err;
      }
      if (stored.size === 0) throw new SpindleError('BAD_USER_INPUT', 'the body is empty: send the module bytes', { field: 'body' });
      const bytes = (await store.blobs.get(stored.digest))!;
      let info: ModuleInfo;
      try {
        info = await runtime.inspect(bytes);
      } catch (err) {
        // An invalid module can never be registered, so nothing can reference its blob.
        if (err instanceof SpindleError) await store.blobs.delete(stored.digest).catch((e: unknown) => logger.warn({ err: e }, 'could not delete an invalid module blob'));
        throw err;
      }
      // The blob stays when refused here (limits, quota): another tenant may hold the same bytes.
      checkDeclared('body', info, config);
      await quotas.checkStore(caller.tenantId, stored.digest, stored.size);
      await store.modules.record(caller.tenantId, stored.digest, stored.size);
      return { digest: stored.digest, size: stored.size, imports: info.imports, exports: info.exports };
    },

    async add(tenantId, field, bytes) {
      const info = await inspectModule(runtime, config, field, bytes);
      await quotas.checkStore(tenantId, info.digest, bytes.length);
      const digest = await store.blobs.put(bytes);
      await store.modules.record(tenantId, digest, bytes.length);
      return { digest, info };
    },
  };
}

/** WebAssembly text → binary; a syntax or validation error names the field and the line. */
export async function compileWat(field: string, text: string): Promise<Uint8Array> {
  try {
    return await watToWasm(text, 'agent.wat');
  } catch (err) {
    throw badInput(field, `does not compile: ${(err as Error).message}`);
  }
}

/** runtime.inspect with the field named in its INVALID_MODULE message, then checkDeclared. */
export async function inspectModule(runtime: Runtime, config: Config, field: string, bytes: Uint8Array): Promise<ModuleInfo> {
  let info: ModuleInfo;
  try {
    info = await runtime.inspect(bytes);
  } catch (err) {
    if (err instanceof SpindleError) throw new SpindleError(err.code, `${field}: ${err.message}`, { ...err.details, field });
    throw err;
  }
  checkDeclared(field, info, config);
  return info;
}

const PAGE = 65536;

/**
 * Refuses a module that no run could instantiate: its declared initial memory above the largest
 * memoryBytes a task may ask for (MAX_MEMORY_BYTES), or its tables' initial elements above
 * MAX_TABLE_ELEMENTS. Without this it would register and fail at every run.
 */
function checkDeclared(field: string, info: ModuleInfo, config: Config): void {
  const maxMemory = config.limits.max.memoryBytes;
  const memory = (info.memory?.initialPages ?? 0) * PAGE;
  if (memory > maxMemory) {
    throw new SpindleError(
      'LIMIT_EXCEEDED',
      `${field}: the module declares ${info.memory!.initialPages} pages (${memory} bytes) of initial memory; the maximum is ${maxMemory} bytes (MAX_MEMORY_BYTES)`,
      { field, size: memory, max: maxMemory, quota: 'MAX_MEMORY_BYTES', limit: String(maxMemory) },
    );
  }
  const maxTable = config.maxTableElements;
  if (info.tableElements > maxTable) {
    throw new SpindleError(
      'LIMIT_EXCEEDED',
      `${field}: the module's tables declare ${info.tableElements} initial elements; the maximum is ${maxTable} (MAX_TABLE_ELEMENTS)`,
      { field, size: info.tableElements, max: maxTable, quota: 'MAX_TABLE_ELEMENTS', limit: String(maxTable) },
    );
  }
}
