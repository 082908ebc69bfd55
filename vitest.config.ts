import { configDefaults, defineConfig } from 'vitest/config';

// CI's services pass (.ci/run) repeats the suites against PostgreSQL and Redis; the runtime's own
// files touch neither and ran in the embedded pass already (see test/helpers/chaos.ts describeServiceFree).
const servicesPass = process.env.SPINDLE_REQUIRE_SERVICES === '1';

export default defineConfig({
  // One graphql for everyone: inlined type-graphql would otherwise import graphql/index.mjs while
  // Apollo and graphql-ws (loaded by Node) get graphql/index.js, and Apollo rejects a schema
  // "from another module or realm". Production (plain Node) always loads index.js.
  resolve: { alias: { graphql: 'graphql/index.js' } },
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Runtime tests spin worker pools and servers; two files at a time keeps a 2-core machine honest.
    maxWorkers: 2,
    server: { deps: { inline: ['type-graphql'] } },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...(servicesPass ? ['test/integration/runtime.*.test.ts'] : [])],
        },
      },
      {
        extends: true,
        // The global setup finds or installs Chromium before any file runs; only this project has it,
        // so `npx vitest run test/unit/…` never waits for a browser.
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], fileParallelism: false, globalSetup: ['test/e2e/global-setup.ts'] },
      },
    ],
  },
});
