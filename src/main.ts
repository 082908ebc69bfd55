/**
 * Spindle's entry point: resolve the config, compose the node (server/compose.ts), register the
 * demo agent on an empty data directory, print where everything is, and shut down gracefully on
 * SIGINT/SIGTERM (a second signal forces the exit).
 */
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { ConfigError, loadConfig, type Config } from './config/index.js';
import { ANONYMOUS } from './domain/index.js';
import { startSpindle, type Spindle } from './server/compose.js';
import { DEMO_AGENT_NAME, DEMO_AGENT_WAT } from './server/demo-agent.js';
import { makeLogger, type Logger } from './server/logger.js';

async function main() {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(2);
  }
  // Before the store opens (PGlite takes seconds): a port in use is the commonest start-up failure.
  for (const [name, port] of [['PORT', config.port], ['METRICS_PORT', config.metricsPort]] as const) {
    const problem = port ? await portProblem(port, config.host, name) : null;
    if (problem) {
      console.error(problem);
      process.exit(2);
    }
  }
  const logger = makeLogger(config);
  handleProcessFaults(logger);
  const spindle = await startSpindle(config, { logger });
  handleSignals(spindle);

  await registerDemoAgent(spindle);
  printBanner(spindle);
}

/**
 * Why `port` cannot be listened on at `host` (in use, or not allowed), as a line that says what to
 * do; null when it can. The listen itself can still fail later (another process may take the port
 * in between): that error ends the start as any other.
 */
function portProblem(port: number, host: string, name: string): Promise<string | null> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') done(`Spindle cannot start: port ${port} on ${host} is already in use. Stop what holds it, or set ${name} to a free port (e.g. ${name}=${port + 1} npm start).`);
      else if (err.code === 'EACCES') done(`Spindle cannot start: listening on port ${port} (${host}) is not allowed here. Set ${name} to a port above 1023.`);
      else done(`Spindle cannot start: cannot listen on ${host}:${port} (${name}): ${err.message}`);
    });
    probe.listen(port, host, () => probe.close(() => done(null)));
  });
}

/** On an empty data directory (no agents yet), a `hello` agent to try things with. */
async function registerDemoAgent(spindle: Spindle) {
  if (spindle.config.role === 'worker') return;
  // As the admin of the default tenant, like a caller without a key on a node with AUTH off.
  const { agents } = spindle.services;
  try {
    if ((await agents.list(ANONYMOUS)).length > 0) return;
    await agents.register(ANONYMOUS, { name: DEMO_AGENT_NAME, description: 'Demo: greets, prints its args, echoes stdin.', wat: DEMO_AGENT_WAT });
    spindle.logger.info({ agent: DEMO_AGENT_NAME }, 'registered the demo agent');
  } catch (err) {
    // Not worth refusing to start over: the API works without it.
    spindle.logger.error({ err }, 'could not register the demo agent');
  }
}

function printBanner({ config, urls, store, bus, generatedAdminKey }: Spindle) {
  const database = store.kind === 'pglite' ? `PGlite (embedded) in ${resolve(config.dataDir, 'pglite')}` : `PostgreSQL at ${redact(config.databaseUrl!)}`;
  const blobs = config.s3 ? `S3 ${config.s3.useSSL ? 'https' : 'http'}://${config.s3.endPoint}${config.s3.port ? `:${config.s3.port}` : ''} bucket ${config.s3.bucket}` : `local directory ${resolve(config.dataDir, 'blobs')}`;
  const pubsub = bus.kind === 'redis' ? `Redis at ${redact(config.redisUrl!)}` : 'in-process (single node)';
  const lines = [
    `Spindle node ${config.nodeId} (role ${config.role}, ${config.role === 'api' ? 'not executing' : `${config.workers} workers`})`,
    `  database   ${database}`,
    `  blobs      ${blobs}`,
    `  pub/sub    ${pubsub}`,
  ];
  if (config.role !== 'worker') {
    lines.push(
      config.auth.enabled
        ? `  auth       on (${config.auth.reason}): send Authorization: Bearer <API key>`
        : `  auth       OFF (${config.auth.reason}): every caller is the admin of the default tenant; set AUTH=on to require API keys`,
    );
  }
  if (generatedAdminKey) {
    lines.push(
      '',
      '  A system admin API key was created. It is shown only this once; store it now:',
      '',
      `      ${generatedAdminKey}`,
      '',
      '  (or set SPINDLE_ADMIN_KEY to choose your own; create more keys with the createApiKey mutation)',
      '',
    );
  }
  if (config.role === 'worker') {
    lines.push(`  health     ${urls.url}/healthz`, `  metrics    ${urls.metricsUrl}`);
  } else {
    lines.push(
      `  API        ${urls.graphqlUrl}`,
      `  WebSocket  ${urls.wsUrl}`,
      `  dashboard  ${urls.url}/`,
      `  try        curl -s ${urls.graphqlUrl} -H 'content-type: application/json'${config.auth.enabled ? " -H 'authorization: Bearer <API key>'" : ''} -d '{"query":"mutation { submitTask(input: {agent: \\"${DEMO_AGENT_NAME}\\", args: [\\"world\\"]}) { id status } }"}'`,
    );
  }
  console.log(lines.join('\n'));
}

/** Hides the password of a connection URL. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * A rejected promise nobody handled is a bug, but one that left the process in a known state (the
 * work that promise stood for failed; everything else goes on): log it loudly and keep serving.
 * Node's default, exiting, would turn one missed `.catch` into a whole node, and its running
 * tasks, lost — and in a cluster, every node at once when the cause is shared (a Redis outage did
 * that). An uncaught exception is different: it unwound a stack mid-update, the state is unknown,
 * so the process still ends (exit 1) after logging it.
 */
function handleProcessFaults(logger: Logger) {
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection (a bug; the node goes on)');
  });
  process.on('uncaughtException', (err, origin) => {
    logger.fatal({ err, origin }, 'uncaught exception: exiting');
    process.exit(1);
  });
}

function handleSignals(spindle: Spindle) {
  let stopping = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // Ctrl-C under `npm start` delivers SIGINT twice (from the terminal and forwarded by npm):
    // only a signal that comes later than that echo means "stop now".
    if (stopping && Date.now() - stopping < 1000) return;
    if (stopping) {
      spindle.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = Date.now();
    spindle.logger.info({ signal, graceMs: spindle.config.shutdownGraceMs }, 'shutting down: finishing running tasks');
    spindle.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        spindle.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

main().catch((err: unknown) => {
  console.error('Spindle failed to start:', err);
  process.exit(1);
});
