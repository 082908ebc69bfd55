/**
 * Writes schema/schema.graphql from the code (types sorted lexicographically for stable diffs), and
 * from it src/client/graphql-env.d.ts, the introspection the typed client's documents are checked
 * against (gql.tada; what `gql-tada generate output` writes, byte for byte). `--check` writes
 * nothing and exits 1 when either file is stale. Needs no database, store or server.
 *
 *   npm run schema:emit      # regenerate
 *   npm run schema:check     # CI: fail when the committed file is stale
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildSchema, introspectionFromSchema, lexicographicSortSchema, printSchema, type IntrospectionQuery } from 'graphql';
import { makeSchema } from '../src/graphql/schema.js';

const SCHEMA = 'schema/schema.graphql';
const CLIENT_TYPES = 'src/client/graphql-env.d.ts';
/**
 * gql.tada's own writer (what its CLI runs), loaded by a name TypeScript does not follow: its
 * declarations pull in TypeScript's compiler API, whose lib references (esnext.disposable) would
 * change what AsyncGenerator means for the whole program.
 */
const tadaInternal = '@gql.tada/internal';
const { minifyIntrospection, outputIntrospectionFile } = (await import(tadaInternal)) as {
  minifyIntrospection(introspection: IntrospectionQuery): unknown;
  outputIntrospectionFile(introspection: unknown, opts: { fileType: '.d.ts'; shouldPreprocess: boolean }): string;
};
const HEADER = '# Generated from src/graphql by scripts/emit-schema.ts (npm run schema:emit). Do not edit.\n\n';

async function main(): Promise<number> {
  const sdl = HEADER + printSchema(lexicographicSortSchema(await makeSchema())) + '\n';
  // From the SDL itself, as the gql.tada CLI reads it (tsconfig.json names schema/schema.graphql).
  const introspection = outputIntrospectionFile(minifyIntrospection(introspectionFromSchema(buildSchema(sdl))), { fileType: '.d.ts', shouldPreprocess: true });
  const files: [string, string, string][] = [
    [SCHEMA, sdl, 'it differs from the schema the code builds'],
    [CLIENT_TYPES, introspection, `it differs from the introspection of ${SCHEMA}`],
  ];
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [path, wanted, why] of files) {
    const target = fileURLToPath(new URL(`../${path}`, import.meta.url));
    if (!check) {
      await writeFile(target, wanted);
      console.log(`wrote ${path}`);
      continue;
    }
    const current = await readFile(target, 'utf8').catch(() => null);
    if (current === wanted) {
      console.log(`${path} is up to date`);
      continue;
    }
    stale++;
    console.error(current === null ? `${path} is missing.` : `${path} is stale: ${why}.`);
    if (current !== null) printFirstDifference(current, wanted);
  }
  if (stale > 0) console.error('Run `npm run schema:emit` and commit the result.');
  return stale > 0 ? 1 : 0;
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
