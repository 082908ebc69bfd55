/**
 * The Node flags a Spindle node runs with, from one place: the "start" script of package.json
 * (`… node <flags> dist/main.js`). The bench starts its server with them (bench/e2e.ts), and the
 * Docker image sets the same in NODE_OPTIONS (test/unit/start-flags.test.ts checks that it does).
 *
 * Why `--v8-pool-size=1` (docs/RATIONALE.md, "One V8 platform thread"): V8's background threads
 * (concurrent GC, off-thread compilation) serve every isolate of the process, and Node starts four
 * whatever the machine. Each keeps its own malloc arena at the high-water mark of what it ran
 * (PGlite's compilation, mostly), and beside a node's own task workers they compete for the cores.
 */
import { readFileSync } from 'node:fs';

export function startFlags(packageJson = new URL('../package.json', import.meta.url)): string[] {
  const start = (JSON.parse(readFileSync(packageJson, 'utf8')) as { scripts: { start: string } }).scripts.start;
  const m = /\bnode((?:\s+--\S+)*)\s+dist\/main\.js\b/.exec(start);
  if (!m) throw new Error(`package.json "start" does not run "node [flags] dist/main.js": ${start}`);
  return m[1]!.trim().split(/\s+/).filter(Boolean);
}
