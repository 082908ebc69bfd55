/**
 * The transpiler's worker (transpiler.ts): jco's `transpileBytes`, one component at a time, in a
 * thread with a heap limit of its own, so a component that makes the code generator run away
 * costs that thread, not the node. jco is imported from the URL the parent resolved: started
 * from TypeScript sources this file runs bundled as a data: URL, from which a bare specifier
 * cannot be resolved (and bundling jco would cut it off from its own Wasm files).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { TranspileRequest, TranspileResponse } from './transpiler.js';

type Jco = typeof import('@bytecodealliance/jco-transpile');

const { jcoUrl, name } = workerData as { jcoUrl: string; name: string };
const port = parentPort!;
let jco: Promise<Jco> | undefined;

port.on('message', (req: TranspileRequest) => {
  void (async (): Promise<TranspileResponse> => {
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
      return { id: req.id, ok: true, files };
    } catch (err) {
      return { id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  })().then((res) => port.postMessage(res));
});
