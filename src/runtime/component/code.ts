/**
 * A component as the runtime holds it: what jco makes of it (transpiler.ts), and that made ready
 * to run (compile.ts), which the cache keeps and a task worker is sent once (run.ts runs it).
 */

/** What jco makes of a component: the glue (instantiation mode 'sync') and its core modules by file name. */
export interface Transpiled {
  js: string;
  cores: Record<string, Uint8Array>;
}

/** A core module of a component, compiled after the rewrite (compile.ts). */
export interface ComponentCore {
  module: WebAssembly.Module;
  /** Its memory as the rewrite left it (an import either way); null when it has none. */
  memory: { initialPages: number; maximumPages: number | null; imported: boolean } | null;
  growFailedExport: string;
  /** It defines tables: instantiated once per run at most (their maximums are this module's share). */
  definesTables: boolean;
  /** It imports the run's fuel budget as spindle.fuel (compiled for a run with a budget). */
  fuel: boolean;
}

/** A component ready to run: what the cache keeps and a worker is sent once. */
export interface ComponentCode {
  glue: string;
  /** By the file names the glue asks for. */
  cores: Record<string, ComponentCore>;
  /** Initial elements of the tables the cores define, together (registration checks it). */
  tableElements: number;
  /** Initial pages of the memories the cores define, together: the cap is one budget for them all. */
  definedPages: number;
}
