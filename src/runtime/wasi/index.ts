/**
 * The WASI preview 1 host (DESIGN.md §3): our own, in TypeScript, because node:wasi aborts the
 * process under load on Node 20 and cannot capture output to buffers.
 *
 * Usage (inside a worker):
 *   const host = makeWasiHost({ args, env, stdin, files, maxOutputBytes, hardOutputBytes, onOutput });
 *   const instance = new WebAssembly.Instance(module, host.imports);
 *   host.setMemory(instance.exports.memory as WebAssembly.Memory);
 *   try { (instance.exports._start as () => void)(); exitCode = 0; }
 *   catch (e) { if (e instanceof ProcExit) exitCode = e.code; else if (e instanceof OutputLimitExceeded) … else trap }
 *   const { stdout, stderr, stdoutTruncated, stderrTruncated, files } = host.result();
 *   host.dispose(); // the instance outlives the task; let it not hold the task's data
 */
export { makeWasiHost, WASI_FUNCTIONS, type WasiHost, type WasiHostOptions } from './host.js';
export { ProcExit, OutputLimitExceeded, E as WASI_ERRNO } from './errno.js';
export { WASI_SIGNATURES } from './signatures.js';
