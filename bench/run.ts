/**
 * `npm run bench [suite…]`: runs every suite listed here (or the named ones), prints a table per
 * suite and writes bench/results/<suite>.json with the machine's description. Figures are
 * measured, never asserted; ratios come from the same run.
 */
import { machine, printTable, writeResults, type Suite } from './lib.js';

/**
 * Every suite, in run order. Loaded lazily so `npm run bench runtime` does not import (or need)
 * what only the end-to-end suite uses.
 */
const SUITES: { name: string; load: () => Promise<Suite>; onlyWhenNamed?: boolean }[] = [
  { name: 'runtime', load: async () => (await import('./runtime.js')).runtimeSuite },
  // The peers run in the same invocation as Spindle's e2e phases, so the ratios compare one run.
  { name: 'e2e', load: async () => (await import('./peers.js')).withPeers((await import('./e2e.js')).e2eSuite) },
  // The peers alone, for iterating; not part of a bare `npm run bench` (e2e runs them).
  { name: 'peers', load: async () => (await import('./peers.js')).peersSuite, onlyWhenNamed: true },
  // The fan-out phase alone (e2e runs it too), for iterating.
  { name: 'fanout', load: async () => (await import('./fanout.js')).makeFanoutSuite(await import('./e2e.js')), onlyWhenNamed: true },
  { name: 'flood', load: async () => (await import('./flood.js')).floodSuite },
  { name: 'scale', load: async () => (await import('./e2e.js')).scaleSuite },
  { name: 'logs', load: async () => (await import('./logs.js')).logsSuite },
  { name: 'pgcost', load: async () => (await import('./pgcost.js')).pgcostSuite },
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !SUITES.some((s) => s.name === w));
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; known: ${SUITES.map((s) => s.name).join(', ')}`);
  process.exit(2);
}

const m = machine();
console.log(`machine: ${m.cpus} × ${m.cpuModel}, ${m.totalMemoryMb} MiB, node ${m.node}, load ${m.loadAverage.join(' ')}`);
for (const entry of SUITES.filter((s) => (wanted.length === 0 ? !s.onlyWhenNamed : wanted.includes(s.name)))) {
  const suite = await entry.load();
  const started = Date.now();
  const metrics = await suite.run();
  printTable(`${suite.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`, metrics);
  console.log(`wrote ${writeResults(suite.name, metrics, suite.setup === undefined ? {} : { setup: suite.setup })}`);
}
