/**
 * Writes schema/schema.graphql from the code (types sorted lexicographically for stable diffs).
 * `--check` writes nothing and exits 1 when the file is stale. Needs no database, store or server.
 *
 *   npm run schema:emit      # regenerate
 *   npm run schema:check     # CI: fail when the committed file is stale
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { makeSchema } from '../src/graphql/schema.js';

const target = fileURLToPath(new URL('../schema/schema.graphql', import.meta.url));
const HEADER = '# Generated from src/graphql by scripts/emit-schema.ts (npm run schema:emit). Do not edit.\n\n';

async function main(): Promise<number> {
  const sdl = HEADER + printSchema(lexicographicSortSchema(await makeSchema())) + '\n';
  if (!process.argv.includes('--check')) {
    await writeFile(target, sdl);
    console.log(`wrote ${target}`);
    return 0;
  }
  const current = await readFile(target, 'utf8').catch(() => null);
  if (current === sdl) {
    console.log('schema/schema.graphql is up to date');
    return 0;
  }
  console.error(current === null ? 'schema/schema.graphql is missing.' : 'schema/schema.graphql is stale: it differs from the schema the code builds.');
  if (current !== null) printFirstDifference(current, sdl);
  console.error('Run `npm run schema:emit` and commit the result.');
  return 1;
}

function printFirstDifference(current: string, wanted: string) {
  const a = current.split('\n');
  const b = wanted.split('\n');
  const at = a.findIndex((line, i) => line !== b[i]);
  const line = at === -1 ? a.length : at;
  console.error(`first difference at line ${line + 1}:`);
  for (let i = Math.max(0, line - 2); i < Math.min(Math.max(a.length, b.length), line + 3); i++) {
    if (a[i] === b[i]) console.error(`  ${a[i] ?? ''}`);
    else {
      if (a[i] !== undefined) console.error(`- ${a[i]}`);
      if (b[i] !== undefined) console.error(`+ ${b[i]}`);
    }
  }
}

process.exitCode = await main();
