/** Building an agent from source: what is asked and what comes back (builder.ts). */

/** Languages Spindle builds itself (README: others are built outside and registered as .wasm). */
export type SourceLanguage = 'assemblyscript' | 'c' | 'cpp';

export interface SourceFile {
  /** Relative, `/`-separated, ending in one of the language's extensions (`main.ts`, `lib/util.c`). */
  path: string;
  text: string;
}

export interface BuildRequest {
  language: SourceLanguage;
  /** AssemblyScript: the first file is the entry. C and C++: every source file is compiled, then linked. */
  files: SourceFile[];
}

export interface Diagnostic {
  severity: 'error' | 'warning' | 'info';
  /** The compiler's code, e.g. `TS2322` or `AS110`. */
  code: string;
  message: string;
  /** Where, when the compiler says: a file of the request (or a library file), 1-based line and column. */
  file: string | null;
  line: number | null;
  column: number | null;
}

/** A diagnostic of the build itself (a deadline, a step that did not end well), not of a file. */
export const buildError = (message: string): Diagnostic => ({ severity: 'error', code: 'BUILD', message, file: null, line: null, column: null });

export type BuildResult =
  | { ok: true; wasm: Uint8Array; log: string; diagnostics: Diagnostic[]; buildMs: number }
  | { ok: false; log: string; diagnostics: Diagnostic[]; buildMs: number };
