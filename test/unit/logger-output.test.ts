// The server's log output (src/server/logger.ts bufferedOutput): lines go out in batches, within
// the flush interval of being logged, and an error line at once.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferedOutput, makeLogger } from '../../src/server/logger.js';
import { sleep, waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'spindle-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const linesIn = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; level: number });

describe('buffered log output', () => {
  it('holds info lines back until the flush interval, then writes them together, in order', async () => {
    const file = join(dir, 'info.log');
    const logger = makeLogger({ logLevel: 'info', nodeId: 'n' }, bufferedOutput(file, 1_000));
    await waitFor('the file to be open', () => existsSync(file), { timeoutMs: 5_000, everyMs: 5 });
    for (let i = 0; i < 5; i++) logger.info({ i }, `line ${i}`);
    await sleep(100);
    expect(readFileSync(file, 'utf8')).toBe(''); // the batch waits for the timer
    await waitFor('the batch', async () => linesIn(file).length === 5, { timeoutMs: 3_000, everyMs: 10 });
    expect(linesIn(file).map((l) => l.msg)).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
  });

  it('writes an error line, and what waited before it, without waiting for the timer', async () => {
    const file = join(dir, 'error.log');
    const logger = makeLogger({ logLevel: 'info', nodeId: 'n' }, bufferedOutput(file, 60_000));
    await waitFor('the file to be open', () => existsSync(file), { timeoutMs: 5_000, everyMs: 5 });
    logger.info('before');
    logger.error('broke');
    // Long before the minute's timer: only the error's own flush can have written them.
    await waitFor('the error line', async () => linesIn(file).length === 2, { timeoutMs: 5_000, everyMs: 5 });
    expect(linesIn(file).map((l) => [l.level, l.msg])).toEqual([[30, 'before'], [50, 'broke']]);
  });
});

describe('log output at exit', () => {
  it('writes the lines still waiting when the process exits', () => {
    const code = `import { makeLogger } from './src/server/logger.ts';
      const logger = makeLogger({ logLevel: 'info', nodeId: 'exiting' });
      for (let i = 0; i < 3; i++) logger.info('waiting ' + i);
      process.exit(0);`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(run.status, run.stderr).toBe(0);
    const msgs = run.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toEqual(['waiting 0', 'waiting 1', 'waiting 2']);
  });
});
