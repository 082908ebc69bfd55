/**
 * The dependency rule (.dependency-cruiser.cjs, run by `npm run lint`) on seeded trees: a clean
 * tree with every layer passes, and each seeded bad import fails under the rule that names it,
 * alone. The trees are written to a temporary directory, so the real src/ is not read.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { IViolation } from 'dependency-cruiser';
import { afterAll, describe, expect, it } from 'vitest';
import { lint } from '../../scripts/lint.js';

const imports = (...specifiers: string[]): string => specifiers.map((s) => `import '${s}';\n`).join('') + 'export const x = 1;\n';

// One small file per layer, each importing what the rule allows, all with ESM `.js` specifiers
// that resolve to `.ts` files as under NodeNext.
const CLEAN: Record<string, string> = {
  'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['src', 'test', 'web'] }),
  'src/domain/task.ts': imports(),
  'src/config/index.ts': imports('../domain/task.js'),
  'src/runtime/pool.ts': imports('../domain/task.js'),
  'src/runtime/worker.ts': imports('./pool.js'),
  'src/generated/prisma/client.ts': imports(),
  'src/store/queue.ts': imports('../domain/task.js', '../generated/prisma/client.js'),
  'src/executor/run.ts': imports('../runtime/pool.js', '../store/queue.js', '../domain/task.js'),
  'src/services/tasks.ts': imports('../executor/run.js', '../store/queue.js', '../config/index.js'),
  'src/graphql/schema.ts': imports('../services/tasks.js', '../config/index.js', '../domain/task.js'),
  'src/server/index.ts': imports('../graphql/schema.js', '../services/tasks.js', '../store/queue.js', '../runtime/pool.js'),
  'src/main.ts': imports('./server/index.js', './config/index.js'),
  'test/unit/tasks.test.ts': imports('../../src/services/tasks.js', '../../src/store/queue.js', '../../src/generated/prisma/client.js'),
  'web/src/main.ts': imports('./api.js'),
  'web/src/api.ts': imports(),
  // Stand-ins for installed packages: a GraphQL library anyone above the engine may use, a
  // driver only the store may.
  'node_modules/graphql/package.json': JSON.stringify({ name: 'graphql', main: 'index.js' }),
  'node_modules/graphql/index.js': 'export const graphql = 1;\n',
  'node_modules/minio/package.json': JSON.stringify({ name: 'minio', main: 'index.js' }),
  'node_modules/minio/index.js': 'export const Client = 1;\n',
  // OpenTelemetry: the API for every layer, the SDK for the server alone.
  'node_modules/@opentelemetry/api/package.json': JSON.stringify({ name: '@opentelemetry/api', main: 'index.js' }),
  'node_modules/@opentelemetry/api/index.js': 'export const trace = 1;\n',
  'node_modules/@opentelemetry/sdk-trace/package.json': JSON.stringify({ name: '@opentelemetry/sdk-trace', main: 'index.js' }),
  'node_modules/@opentelemetry/sdk-trace/index.js': 'export const TracerProvider = 1;\n',
};
CLEAN['src/graphql/schema.ts'] += imports('graphql');
CLEAN['src/store/queue.ts'] += imports('minio');
CLEAN['src/executor/run.ts'] += imports('@opentelemetry/api');
CLEAN['src/server/index.ts'] += imports('@opentelemetry/sdk-trace');
/** Imports between the tree's own files (`localImports` leaves packages out). */
const CLEAN_IMPORTS = Object.values(CLEAN).join('').match(/^import '\.\.?\//gm)!.length;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Writes the clean tree with `changes` applied (a fresh directory each time) and lints it. */
async function lintTree(changes: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'spindle-lint-'));
  dirs.push(dir);
  for (const [path, text] of Object.entries({ ...CLEAN, ...changes })) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return lint(dir, ['src', 'test', 'web/src']);
}

/** "rule: from → to", or for a cycle "rule: its modules, sorted" (a cycle has no first module). */
function describeViolation(v: IViolation): string {
  if (v.cycle) return `${v.rule.name}: ${[v.from, ...v.cycle.map((c) => c.name)].filter((m, i, all) => all.indexOf(m) === i).sort().join(', ')}`;
  return v.type === 'module' || v.type === 'reachability' ? `${v.rule.name}: ${v.from}` : `${v.rule.name}: ${v.from} → ${v.to}`;
}

describe('npm run lint (the dependency rule)', () => {
  it('passes a clean tree of every layer, having resolved every import in it', async () => {
    const { violations, localImports, report } = await lintTree();
    expect(violations.map(describeViolation)).toEqual([]);
    // A cruise that resolves nothing passes every rule: make sure this one saw the edges.
    expect(localImports).toBe(CLEAN_IMPORTS);
    expect(report).toContain('0 violations');
  });

  it.each<{ seeded: string; changes: Record<string, string>; expected: string }>([
    {
      seeded: 'an upward import (store → graphql)',
      changes: {
        'src/graphql/errors.ts': imports(),
        'src/store/queue.ts': imports('../domain/task.js', '../generated/prisma/client.js', '../graphql/errors.js'),
      },
      expected: 'store-only-domain: src/store/queue.ts → src/graphql/errors.ts',
    },
    {
      seeded: 'a cycle (executor/run ↔ executor/lease)',
      changes: {
        'src/executor/lease.ts': imports('./run.js'),
        'src/executor/run.ts': imports('../runtime/pool.js', '../store/queue.js', './lease.js'),
      },
      expected: 'no-cycle: src/executor/lease.ts, src/executor/run.ts',
    },
    {
      seeded: 'a cycle of type-only imports (runtime/job ↔ runtime/slot)',
      changes: {
        'src/runtime/job.ts': `import type { Slot } from './slot.js';\nexport type Job = { slot: Slot };\n`,
        'src/runtime/slot.ts': `import type { Job } from './job.js';\nexport type Slot = { jobs: Job[] };\n`,
        'src/runtime/pool.ts': imports('../domain/task.js', './job.js', './slot.js'),
      },
      expected: 'no-cycle: src/runtime/job.ts, src/runtime/slot.ts',
    },
    {
      seeded: 'graphql reaching the store past services',
      changes: { 'src/graphql/schema.ts': imports('../services/tasks.js', '../store/queue.js') },
      expected: 'graphql-through-services: src/graphql/schema.ts → src/store/queue.ts',
    },
    {
      seeded: 'the executor reading config',
      changes: { 'src/executor/run.ts': imports('../runtime/pool.js', '../store/queue.js', '../config/index.js') },
      expected: 'executor-below-services: src/executor/run.ts → src/config/index.ts',
    },
    {
      seeded: 'runtime importing the store',
      changes: { 'src/runtime/pool.ts': imports('../domain/task.js', '../store/queue.js') },
      expected: 'runtime-only-domain: src/runtime/pool.ts → src/store/queue.ts',
    },
    {
      seeded: 'services seeing a Prisma type',
      changes: { 'src/services/tasks.ts': `import type { Client } from '../generated/prisma/client.js';\n` + imports('../executor/run.js') },
      expected: 'prisma-only-in-store: src/services/tasks.ts → src/generated/prisma/client.ts',
    },
    {
      seeded: 'runtime importing a package',
      changes: { 'src/runtime/pool.ts': imports('../domain/task.js', 'graphql') },
      expected: 'runtime-no-packages: src/runtime/pool.ts → node_modules/graphql/index.js',
    },
    {
      seeded: 'the executor importing the OpenTelemetry SDK',
      changes: { 'src/executor/run.ts': imports('../runtime/pool.js', '../store/queue.js', '@opentelemetry/sdk-trace') },
      expected: 'otel-sdk-only-in-server: src/executor/run.ts → node_modules/@opentelemetry/sdk-trace/index.js',
    },
    {
      seeded: 'services importing minio',
      changes: { 'src/services/tasks.ts': imports('../executor/run.js', 'minio') },
      expected: 'prisma-only-in-store: src/services/tasks.ts → node_modules/minio/index.js',
    },
    {
      seeded: 'main.ts importing graphql',
      changes: { 'src/main.ts': imports('./server/index.js', './graphql/schema.js') },
      expected: 'main-composes-through-server: src/main.ts → src/graphql/schema.ts',
    },
    {
      seeded: 'the HTTP upload going through graphql',
      changes: {
        'src/server/modules.ts': imports('../graphql/schema.js'),
        'src/server/index.ts': imports('../graphql/schema.js', './modules.js'),
      },
      expected: 'upload-through-services: src/server/modules.ts → src/graphql/schema.ts',
    },
    {
      seeded: 'a test importing main.ts',
      changes: { 'test/unit/main.test.ts': imports('../../src/main.js') },
      expected: 'nothing-imports-main: test/unit/main.test.ts → src/main.ts',
    },
    {
      seeded: 'src importing a test helper',
      changes: { 'test/helpers/db.ts': imports(), 'src/store/queue.ts': imports('../domain/task.js', '../../test/helpers/db.js') },
      expected: 'src-not-tests: src/store/queue.ts → test/helpers/db.ts',
    },
    {
      seeded: 'the dashboard importing src',
      changes: { 'web/src/api.ts': imports('../../src/domain/task.js') },
      expected: 'web-through-graphql: web/src/api.ts → src/domain/task.ts',
    },
    {
      seeded: 'a module main.ts never reaches',
      changes: { 'src/executor/index.ts': imports('./run.js') },
      expected: 'no-unreachable: src/executor/index.ts',
    },
    {
      seeded: 'an import that does not resolve',
      changes: { 'src/domain/task.ts': imports('./gone.js') },
      expected: 'no-unresolved: src/domain/task.ts → ./gone.js',
    },
  ])('fails on $seeded', async ({ changes, expected }) => {
    const { violations, report } = await lintTree(changes);
    expect(violations.map(describeViolation)).toEqual([expected]);
    expect(report).toContain(violations[0]!.rule.name);
  });
});
