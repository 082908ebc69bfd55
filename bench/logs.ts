/**
 * What a log line costs: the server's own logger (src/server/logger.ts: pino, the node on every
 * line, redaction) writing synchronously to /dev/null, as it writes to stdout. A lifecycle line
 * shaped like `task finished`, from the node's logger and from a request's (requestLogger), and
 * the same call below the level (guarded by isLevelEnabled, as the executor guards its debug
 * lines). CPU time of this thread per line, best of a few rounds.
 */
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { bufferedOutput, makeLogger, requestLogger } from '../src/server/logger.js';
import type { Metric, Suite } from './lib.js';

const LINES = 50_000;
const ROUNDS = 3;
const FIELDS = { taskId: '0193a4c2-7d1e-7b3a-9c41-5e2f8d6a1b07', tenantId: 'default', agentId: '0193a4c2-7d1e-7b3a-9c41-5e2f8d6a1b08', attempt: 1, outcome: 'exited', exitCode: 0, ms: 1.2 };

/** CPU µs of this thread per call of `line`, best of ROUNDS. */
function perLine(line: () => void): number {
  for (let i = 0; i < LINES / 10; i++) line();
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const before = process.cpuUsage();
    for (let i = 0; i < LINES; i++) line();
    const used = process.cpuUsage(before);
    best = Math.min(best, (used.user + used.system) / LINES);
  }
  return best;
}

export const logsSuite: Suite = {
  name: 'logs',
  setup: { lines: LINES, rounds: ROUNDS, destination: '/dev/null (sync, as stdout)' },
  async run(): Promise<Metric[]> {
    const started = performance.now();
    const config = { logLevel: 'debug', nodeId: 'bench-node' } as const;
    const on = makeLogger(config, pino.destination({ dest: '/dev/null', sync: true }));
    const off = makeLogger({ ...config, logLevel: 'info' }, pino.destination({ dest: '/dev/null', sync: true }));
    const line = perLine(() => on.debug(FIELDS, 'task finished'));
    const request = requestLogger(on, 'bench-request-0001');
    const scoped = perLine(() => request.info(FIELDS, 'task cancelled'));
    const below = perLine(() => {
      if (off.isLevelEnabled('debug')) off.debug(FIELDS, 'task finished');
    });
    // Paced as a node at 200 one-task submits/s writes them (two lines each), all threads' CPU.
    const idle = await paced(null);
    const perLineDefault = (await paced(makeLogger(config, pino.destination({ dest: '/dev/null' })))) - idle;
    const perLineBuffered = (await paced(makeLogger(config, bufferedOutput('/dev/null')))) - idle;
    console.error(`  logs: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return [
      { name: 'log_line_us', value: round(line), unit: 'µs CPU', note: 'one lifecycle line (7 fields + node), written' },
      { name: 'log_line_in_request_us', value: round(scoped), unit: 'µs CPU', note: "the same from a request's logger (adds requestId)" },
      { name: 'log_line_below_level_ns', value: Math.round(below * 1000), unit: 'ns CPU', note: 'a debug line at LOG_LEVEL=info, guarded by isLevelEnabled' },
      { name: 'log_line_paced_default_us', value: round(perLineDefault), unit: 'µs CPU', note: `pino's default destination (each line through the thread pool), ${PACED_LINES} lines 2 per ${PACE_MS} ms, all threads` },
      { name: 'log_line_paced_buffered_us', value: round(perLineBuffered), unit: 'µs CPU', note: "the server's (bufferedOutput: batches, flushed every LOG_FLUSH_MS), same pace" },
    ];
  },
};

const round = (us: number) => Math.round(us * 100) / 100;

const PACED_LINES = 2_000;
const PACE_MS = 5;

/**
 * CPU µs of the whole process (every thread: the thread pool's writes too) per line, writing two
 * lines every PACE_MS ms; `null` = the same timer without lines (the baseline to subtract).
 */
async function paced(logger: ReturnType<typeof makeLogger> | null): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < PACED_LINES; i += 2) {
    logger?.info(FIELDS, 'tasks submitted');
    logger?.info(FIELDS, 'request');
    await new Promise((r) => setTimeout(r, PACE_MS));
  }
  await new Promise((r) => setTimeout(r, 200)); // the last batch written
  const used = process.cpuUsage(before);
  return (used.user + used.system) / PACED_LINES;
}
