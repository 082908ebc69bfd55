// Which Chromium the e2e suite drives, and Debian's package when there is none and we may install it.
// The decisions are pure functions over a `Machine`, so the unit tests can play "missing", "not
// root" and "no apt-get" without touching this machine's browser; `thisMachine` and
// `installDebianChromium` are the real thing, used by test/e2e/global-setup.ts.
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

/** Looked at in this order when CHROMIUM_PATH is unset; then these names on PATH. */
export const USUAL_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];
const NAMES = USUAL_PATHS.map((p) => p.slice('/usr/bin/'.length));
export const MANUAL_INSTALL = 'sudo apt-get install -y chromium';

export interface Machine {
  /** CHROMIUM_PATH, if set. */
  chromiumPath?: string;
  isRoot: boolean;
  isFile(path: string): boolean;
  /** Absolute path of an executable on PATH. */
  which(name: string): string | undefined;
  /** The executable's `--version` line; rejects when it does not run. */
  version(path: string): Promise<string>;
}

export interface Chromium { path: string; version: string }

export type ChromiumPlan = ({ kind: 'found' } & Chromium) | { kind: 'install' } | { kind: 'fail'; message: string };

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0];

/** CHROMIUM_PATH, else the first usual place that runs `--version`; else install (root with apt-get) or fail. */
export async function planChromium(m: Machine, { mayInstall = true } = {}): Promise<ChromiumPlan> {
  if (m.chromiumPath !== undefined) {
    // An explicit choice never falls back: testing another browser than the one asked for hides the mistake.
    if (!m.isFile(m.chromiumPath)) return { kind: 'fail', message: `CHROMIUM_PATH=${m.chromiumPath} does not exist: point CHROMIUM_PATH at a Chromium executable, or unset it to use /usr/bin/chromium` };
    try {
      return { kind: 'found', path: m.chromiumPath, version: await m.version(m.chromiumPath) };
    } catch (err) {
      return { kind: 'fail', message: `CHROMIUM_PATH=${m.chromiumPath} does not run \`--version\` (${reason(err)}): point CHROMIUM_PATH at a Chromium executable` };
    }
  }
  const candidates = [...new Set([...USUAL_PATHS, ...NAMES.map((n) => m.which(n))])].filter((p): p is string => !!p && m.isFile(p));
  const broken: string[] = [];
  for (const path of candidates) {
    try {
      return { kind: 'found', path, version: await m.version(path) };
    } catch (err) {
      broken.push(`${path} (${reason(err)})`);
    }
  }
  if (mayInstall && m.isRoot && m.which('apt-get')) return { kind: 'install' };

  const looked = `looked at ${USUAL_PATHS.join(', ')} and ${NAMES.join(', ')} on PATH`;
  const found = broken.length ? `; found but not runnable: ${broken.join(', ')}` : '';
  const how = !mayInstall ? 'apt-get install chromium succeeded, but no Chromium appeared: set CHROMIUM_PATH'
    : m.isRoot ? 'no apt-get here to install it: install Chromium with your package manager and set CHROMIUM_PATH'
    : `install it with \`${MANUAL_INSTALL}\` (or set CHROMIUM_PATH to a Chromium executable)`;
  return { kind: 'fail', message: `Chromium not found (${looked}${found}): ${how}` };
}

/** The browser the e2e tests will drive, installing Debian's package once if the plan says so; throws otherwise. */
export async function resolveChromium(m: Machine, install: () => Promise<void>, say: (line: string) => void): Promise<Chromium> {
  let plan = await planChromium(m);
  if (plan.kind === 'install') {
    say("installing Debian's chromium for the e2e tests (apt-get install -y chromium)…");
    await install();
    plan = await planChromium(m, { mayInstall: false });
  }
  if (plan.kind === 'found') return { path: plan.path, version: plan.version };
  throw new Error(plan.kind === 'fail' ? plan.message : 'planChromium asked to install twice');
}

const run = promisify(execFile);

export function thisMachine(chromiumPath: string | undefined): Machine {
  return {
    chromiumPath,
    isRoot: process.getuid?.() === 0,
    isFile: (path) => statSync(path, { throwIfNoEntry: false })?.isFile() ?? false,
    which(name) {
      for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
        const path = join(dir, name);
        try {
          accessSync(path, constants.X_OK);
          if (statSync(path).isFile()) return path;
        } catch { /* not here */ }
      }
      return undefined;
    },
    // `--version` exits at once; the bound only catches a wrapper that hangs (on a loaded 2-core box it takes ~0.1 s).
    version: async (path) => (await run(path, ['--version'], { timeout: 8_000 })).stdout.trim(),
  };
}

/** `apt-get update` + `apt-get install chromium`, quiet; on failure the error holds the last lines and the command to run by hand. */
export async function installDebianChromium(): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Waits for another apt/dpkg (another test run installing too) instead of failing on its lock;
  // `apt-get update` ignores this option, so its failure is kept and reported only if install fails too.
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  let updateFailure = '';
  try {
    await run('apt-get', [...lock, 'update', '-q'], { env, timeout: 5 * 60_000, maxBuffer: 64 << 20 });
  } catch (err) {
    updateFailure = `apt-get update failed:\n${tail(err)}\n`;
  }
  try {
    await run('apt-get', [...lock, 'install', '-y', '-q', 'chromium'], { env, timeout: 15 * 60_000, maxBuffer: 64 << 20 });
  } catch (err) {
    throw new Error(`${updateFailure}apt-get install -y chromium failed:\n${tail(err)}\nRun it by hand: sudo apt-get update && ${MANUAL_INSTALL} (or set CHROMIUM_PATH)`);
  }
}

function tail(err: unknown, lines = 12): string {
  const e = err as { stdout?: string; stderr?: string; killed?: boolean; message?: string };
  const text = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || (e.message ?? String(err));
  return (e.killed ? '(timed out)\n' : '') + text.split('\n').slice(-lines).map((l) => `  ${l}`).join('\n');
}
