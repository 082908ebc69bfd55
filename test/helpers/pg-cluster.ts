/**
 * A throwaway PostgreSQL cluster on a free port, made with the machine's own PostgreSQL binaries
 * (Debian's /usr/lib/postgresql/<version>/bin), for a test that must not share a server with the
 * rest of the suite: its own WAL, its own autovacuum, and its own transaction horizon (a
 * transaction open anywhere in a cluster keeps VACUUM from recycling B-tree pages in every database
 * of it). As root (CI), initdb and postgres run as the `postgres` user, since PostgreSQL refuses
 * to run as root. `stop()` shuts it down fast and deletes its directory.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis-server.js';

export interface PgCluster {
  /** postgresql://postgres@127.0.0.1:<port>/postgres */
  url: string;
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL's bin directory (PG_BIN overrides). */
function pgBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`no PostgreSQL server binaries under ${root} (set PG_BIN to the directory holding initdb and postgres)`);
  return join(root, newest, 'bin');
}

export async function startPgCluster(): Promise<PgCluster> {
  const bin = pgBin();
  const dir = await mkdtemp(join(tmpdir(), 'spindle-pg-'));
  const data = join(dir, 'data');
  // As root: the directory goes to `postgres`, and both commands run as that user (set on the
  // child itself, so signals reach postgres with no wrapper between).
  let user: { uid?: number; gid?: number } = {};
  if (process.getuid?.() === 0) {
    const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim()));
    await chown(dir, uid!, gid!);
    user = { uid: uid!, gid: gid! };
  }
  try {
    await promisify(execFile)(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], user);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(err as { stderr?: string }).stderr ?? String(err)}`);
  }
  // The port is free when chosen, but another process may bind it before postgres does: then
  // postgres exits, and it is tried again on another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const server: ChildProcess = spawn(
      join(bin, 'postgres'),
      ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`],
      { stdio: ['ignore', 'ignore', 'pipe'], ...user },
    );
    let log = '';
    const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
    // Its own log says when it listens (no probe that could reach another server on the port).
    const ready = new Promise<boolean>((resolve) => {
      server.stderr!.on('data', (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-4000);
        if (log.includes('ready to accept connections')) resolve(true);
      });
      void exited.then(() => resolve(false));
      setTimeout(() => resolve(false), 20_000).unref();
    });
    // A test process that dies must not leave a server behind.
    const kill = () => server.kill('SIGKILL');
    process.once('exit', kill);
    const halt = async () => {
      process.off('exit', kill);
      if (server.exitCode === null) server.kill('SIGINT'); // fast shutdown
      await exited;
    };
    const stop = async () => {
      await halt();
      await rm(dir, { recursive: true, force: true });
    };
    if (await ready) return { url: `postgresql://postgres@127.0.0.1:${port}/postgres`, stop };
    await halt();
    if (attempt >= 3 || !/could not bind|address already in use/i.test(log)) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`the PostgreSQL cluster did not start on port ${port}:\n${log}`);
    }
  }
}
