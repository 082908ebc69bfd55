#!/usr/bin/env node
// @ts-check
/**
 * The `spindle` command (package.json "bin"). Runs the compiled CLI (dist/cli) when it is at least
 * as new as its sources, else the sources themselves through tsx (a checkout being worked on, or
 * one not built yet), so `npx spindle` never runs stale code.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = join(root, 'dist/cli/bin.js');
// tsc -b rewrites its build info on every build that changed something, but leaves an output
// whose text did not change untouched: the build info's time is the build's.
const buildInfo = join(root, 'dist/.tsbuildinfo');
// What the CLI is built from (its import graph stays inside these: the lint's cli rule).
const SOURCES = ['src/cli', 'src/client', 'src/runtime', 'src/domain', 'src/config'];

/** @param {string} path @returns {number} */
function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((f) => newest(join(path, f))));
}

function fresh() {
  if (!existsSync(compiled) || !existsSync(buildInfo)) return false;
  const sources = SOURCES.map((s) => join(root, s)).filter(existsSync);
  return sources.length === 0 || Math.max(...sources.map(newest)) <= statSync(buildInfo).mtimeMs;
}

if (fresh()) await import(compiled);
else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(join(root, 'src/cli/bin.ts'));
}
