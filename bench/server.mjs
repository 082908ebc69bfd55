// @ts-check
/**
 * The benchmark's server process: one Spindle node composed exactly as main.ts does, in its own
 * process, so the load generator (bench/e2e.ts) never shares its event loop. Plain JS over the
 * compiled server in dist/ (bench/e2e.ts builds what is stale first), so what is measured is what
 * `npm start` runs: under tsx the same node held ~175 MiB more RSS and spent 2-4 % more CPU.
 * Configured by the ordinary env (PORT=0, DATA_DIR, DATABASE_URL, …) plus BENCH_PG_SCHEMA (a fresh
 * PostgreSQL schema for this run). Prints one JSON line `{"ready":{…urls}}` on stdout once
 * listening; stops gracefully on SIGTERM or when stdin closes (the parent died), so `--cpu-prof`
 * gets written.
 */

/**
 * A module of the compiled server. Imported by URL: dist/ is build output, absent from a fresh
 * clone, and the dependency rule (npm run lint) checks the sources it is built from.
 * @param {string} path
 */
const compiled = (path) => import(new URL(`../dist/${path}`, import.meta.url).href);
const [{ loadConfig }, { startSpindle }, { makeStore }] = await Promise.all([
  compiled('config/index.js'),
  compiled('server/compose.js'),
  compiled('store/index.js'),
]);

const config = loadConfig(process.env);
const store = await makeStore({
  databaseUrl: config.databaseUrl,
  dataDir: config.dataDir,
  pgSchema: process.env.BENCH_PG_SCHEMA || undefined,
  node: config.nodeId,
  apiStatementTimeoutMs: config.apiStatementTimeoutMs,
});
const spindle = await startSpindle(config, { store });
process.stdout.write(`${JSON.stringify({ ready: spindle.urls })}\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(1), 15_000);
  force.unref();
  spindle
    .stop()
    .catch((/** @type {unknown} */ err) => console.error('bench server: stop failed', err))
    .finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
