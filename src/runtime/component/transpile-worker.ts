/**
 * The transpiler's thread (transpiler.ts, tools.ts): jco's `transpileBytes`, one component at a
 * time. jco is imported from the URL the parent resolved: started from TypeScript sources this
 * file runs bundled as a data: URL, from which a bare specifier cannot be resolved (and bundling
 * jco would cut it off from its own Wasm files).
 */
import { workerData } from 'node:worker_threads';
import { serveTool } from '../tools.js';
import type { TranspileRequest, TranspileResponse } from './transpiler.js';

type Jco = typeof import('@bytecodealliance/jco-transpile');

const { jcoUrl, name } = workerData as { jcoUrl: string; name: string };
let jco: Promise<Jco> | undefined;

serveTool<TranspileRequest, TranspileResponse>(async (req) => {
  try {
    const { transpileBytes } = await (jco ??= import(jcoUrl) as Promise<Jco>);
    const { files } = await transpileBytes(req.bytes, {
      name,
      instantiation: 'sync',
      // Core modules as files of their own (compiled by us, after our rewrite), never inlined.
      base64Cutoff: 0,
      minify: false,
      optimize: false,
    });
    return { ok: true, files };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
});
