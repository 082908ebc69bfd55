/**
 * The dependency rule (README "Architecture", docs/RATIONALE.md), checked by `npm run lint`:
 *
 *   main → server → graphql → services → {executor, store} ; executor → {runtime, store} → domain
 *
 * config/ (env → frozen config) sits below services and above the engine: services, graphql,
 * server and main read it; executor, store and runtime get their options passed down. domain/ is
 * read by everyone and imports nothing. A layer may skip layers below it (server composes store,
 * runtime and executor) except graphql/, which reaches the engine only through services/.
 *
 * Each rule says what a folder may NOT import (so a new folder is unconstrained until it gets a
 * rule). cli/ and client/ do not exist yet; their rules are the places DESIGN.md gives them.
 * test/, bench/ and scripts/ may import anything from src/, never the other way round.
 *
 * test/unit/lint.test.ts runs these rules on a seeded tree; keep its layer list in step.
 */
// Packages that are the store's business alone ("services never see Prisma or minio types").
const storePackages = '^node_modules/(@prisma/|prisma/|pg/|pg-[^/]+/|@electric-sql/pglite/|pglite-prisma-adapter/|minio/)';
const npm = ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'];

// Targets with a rule of their own below, so that one bad import is reported once.
const ownRule = '^src/(main\\.ts$|generated/|cli/|client/)';

/** "`from` imports only `allowed` (and itself) inside src/". */
const only = (name, from, allowed, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: `^src/${from}/` },
  to: { path: '^src/', pathNot: [`^src/(${[from, ...allowed].join('|')})/`, ownRule] },
});

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'A cycle makes two modules one: import order decides what is initialised. Type-only cycles count too.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-unresolved',
      comment: 'An import the cruiser cannot resolve escapes every rule below (e.g. src/generated/ before `npm run generate`).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    only('domain-imports-nothing', 'domain', [], 'domain/ holds plain types, enums and errors for everyone; it imports nothing else from src/.'),
    only('config-only-domain', 'config', ['domain'], 'config/ parses the environment; it builds on domain/ types only.'),
    only('runtime-only-domain', 'runtime', ['domain'], 'runtime/ is the sandbox: it knows nothing of Prisma, GraphQL, tasks or config.'),
    {
      name: 'runtime-no-packages',
      comment:
        'runtime/ uses Node built-ins only: no database, GraphQL or pub/sub package reaches the sandbox. ' +
        'esbuild is the exception: it bundles the worker when running from TypeScript sources (runtime/index.ts); ' +
        'and the tools Spindle runs in threads of their own (runtime/tools.ts): jco, the component transpiler ' +
        '(runtime/component/transpile-worker.ts), and the compilers of builds from source (runtime/build/*-worker.ts); ' +
        'and wabt, WebAssembly text to binary on the calling thread (runtime/module/wat.ts: registration, `spindle run`), never in a task worker.',
      severity: 'error',
      from: { path: '^src/runtime/', pathNot: '^src/runtime/((component/transpile|build/[a-z]+)-worker|module/wat)\\.ts$' },
      to: { dependencyTypes: npm, pathNot: '^node_modules/esbuild/' },
    },
    only('store-only-domain', 'store', ['domain'], 'store/ builds on domain/ and the Prisma client; its options are passed down (no config/).'),
    only('executor-below-services', 'executor', ['domain', 'runtime', 'store'], 'executor/ drives runtime/ and store/; its options are passed down (no config/).'),
    only('services-below-transports', 'services', ['domain', 'config', 'runtime', 'store', 'executor'], 'services/ are transport-free use cases: no GraphQL, HTTP or CLI.'),
    only('graphql-through-services', 'graphql', ['domain', 'config', 'services'], 'graphql/ is a thin adapter: it reaches the store, executor and runtime only through services/.'),
    {
      name: 'upload-through-services',
      comment: 'The HTTP module upload is an adapter over services/ like the resolvers, not a client of graphql/.',
      severity: 'error',
      from: { path: '^src/server/modules\\.ts$' },
      to: { path: '^src/graphql/' },
    },
    {
      name: 'main-composes-through-server',
      comment: 'main.ts wires config, store, services and server; graphql/ is the server\'s business.',
      severity: 'error',
      from: { path: '^src/main\\.ts$' },
      to: { path: '^src/graphql/' },
    },
    only('cli-through-client', 'cli', ['domain', 'config', 'runtime'], 'cli/ runs locally on runtime/ or remotely through the GraphQL client, never on the server\'s insides.'),
    {
      name: 'client-imports-no-server',
      comment: 'The GraphQL client is generated from schema/ and shared by cli, web and bench: it imports nothing of the server.',
      severity: 'error',
      from: { path: '^(src/)?client/' },
      to: { path: '^src/', pathNot: '^src/client/' },
    },
    {
      name: 'server-not-through-client',
      comment: 'The server\'s layers never call themselves through the GraphQL client.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|client)/' },
      to: { path: '^(src/)?client/' },
    },
    {
      name: 'nothing-imports-main',
      comment: 'main.ts is the composition root of a node: nothing imports it (tests start it as a process).',
      severity: 'error',
      from: {},
      to: { path: '^src/main\\.ts$' },
    },
    {
      name: 'nothing-imports-cli',
      comment: 'cli/ is an entry point of its own.',
      severity: 'error',
      from: { pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'prisma-only-in-store',
      comment: 'Only store/ sees Prisma, the SQL drivers, PGlite and minio; everything else gets store/types.ts interfaces.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(store|generated)/' },
      to: { path: ['^src/generated/', storePackages] },
    },
    {
      name: 'otel-sdk-only-in-server',
      comment: 'The OpenTelemetry SDK is set up by server/tracing.ts alone; the layers below trace through @opentelemetry/api with the tracer they are given.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/server/' },
      to: { path: '^node_modules/@opentelemetry/', pathNot: '^node_modules/@opentelemetry/api/' },
    },
    {
      name: 'src-not-tests',
      comment: 'Tests, benchmarks and scripts may import src/; src/ never imports them.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|scripts|web)/' },
    },
    {
      name: 'web-through-graphql',
      comment: 'web/ is its own app: it talks to the server through GraphQL only (later: through client/).',
      severity: 'error',
      from: { path: '^web/' },
      to: { path: '^(src|test|bench|scripts)/', pathNot: '^src/client/' },
    },
    {
      name: 'no-unreachable',
      comment: 'A module of src/ that main.ts, the CLI (cli/bin.ts) or a worker entry never reaches is dead code, or code only tests use.',
      severity: 'error',
      from: { path: '^src/(main|cli/bin|runtime/worker|runtime/component/transpile-worker|runtime/build/asc-worker)\\.ts$' },
      to: { path: '^src/', pathNot: ['^src/(main|runtime/worker|runtime/component/transpile-worker|runtime/build/asc-worker)\\.ts$', '^src/(generated|cli)/', '\\.d\\.ts$'], reachable: false },
    },
  ],
  options: {
    // The Prisma client and packages are nodes (rules see edges into them) but are not walked.
    doNotFollow: { path: ['node_modules', '^src/generated/'] },
    exclude: { path: ['^web/dist/', '^dist/', '^test/fixtures/'] },
    // Type-only imports are dependencies too ("services never see Prisma types").
    tsPreCompilationDeps: true,
    // Resolves the ESM `.js` specifiers to the `.ts` sources (NodeNext), as tsc does.
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.d.ts', '.js', '.mjs', '.cjs', '.json'],
    },
    skipAnalysisNotInRules: true,
  },
};
