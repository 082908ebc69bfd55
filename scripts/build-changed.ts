/**
 * What `npm start` builds: only what is out of date. A fresh clone builds everything; later starts
 * skip the Prisma client and the dashboard when their output is newer than every input, and the
 * server's tsc build (`tsc -b`, incremental, its state in dist/) does its own up-to-date check.
 * `npm run build` still builds everything (CI, Docker).
 *
 *   tsx scripts/build-changed.ts && node --v8-pool-size=1 dist/main.js
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const repo = resolve(import.meta.dirname, '..');

export interface Step {
  /** The package.json script that does the work. */
  script: string;
  what: string;
  /** Files and folders (repo-relative) whose change makes the output stale; none: always run. */
  inputs?: string[];
  /** A file the script rewrites on every run: its mtime says when the output was built. */
  output?: string;
}

// Rewritten by every npm install/ci: a new prisma, vite or preact means building again.
const INSTALLED = 'node_modules/.package-lock.json';

export const PRISMA_CLIENT: Step = {
  script: 'generate',
  what: 'the Prisma client',
  inputs: ['prisma/schema.prisma', 'prisma.config.ts', INSTALLED],
  output: 'src/generated/prisma/client.ts',
};
export const SERVER: Step = { script: 'build:server', what: 'the server' };
export const DASHBOARD: Step = {
  script: 'build:web',
  what: 'the dashboard',
  inputs: ['web/src', 'web/index.html', 'web/explorer.html', 'web/vite.config.ts', INSTALLED],
  output: 'web/dist/index.html',
};

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  // A folder's own mtime moves when a file in it is deleted or renamed.
  return Math.max(st.mtimeMs, ...readdirSync(path).map((f) => newestMtime(join(path, f))));
}

export function isStale(step: Step): boolean {
  if (!step.inputs || !step.output) return true;
  const output = join(repo, step.output);
  if (!existsSync(output)) return true;
  const inputs = step.inputs.map((p) => join(repo, p)).filter(existsSync);
  return Math.max(0, ...inputs.map(newestMtime)) > statSync(output).mtimeMs;
}

export function runStep(step: Step): void {
  const started = new Date();
  execFileSync('npm', ['run', '--silent', step.script], { cwd: repo, stdio: 'inherit' });
  // Stamped with the start time: a source saved while the step ran is newer, so the next start builds again.
  if (step.output) utimesSync(join(repo, step.output), started, started);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const step of [PRISMA_CLIENT, SERVER, DASHBOARD]) {
    if (!isStale(step)) continue;
    const t0 = performance.now();
    runStep(step);
    if (step.output) console.error(`built ${step.what} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
}
