/** The guest's inputs as the CLI takes them from this machine: files and stdin. */
import { readFile } from 'node:fs/promises';
import type { FileEntry } from '../domain/index.js';
import { UsageError, type Io } from './io.js';

export async function readInputFiles(files: { host: string; guest: string }[]): Promise<FileEntry[]> {
  return Promise.all(
    files.map(async ({ host, guest }) => ({
      path: guest,
      bytes: await readFile(host).catch((err: NodeJS.ErrnoException) => {
        throw new UsageError(`--file ${host}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
      }),
    })),
  );
}

export async function readStdin(io: Io, file: string | undefined): Promise<Uint8Array> {
  if (file === undefined && io.stdinIsTTY) return new Uint8Array();
  if (file !== undefined && file !== '-') {
    return readFile(file).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`--stdin ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    });
  }
  return io.readStdin();
}

