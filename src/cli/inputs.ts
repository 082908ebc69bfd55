/** The guest's inputs as the CLI takes them from this machine: files and stdin. */
import { readFile } from 'node:fs/promises';
import type { FileEntry } from '../domain/index.js';
import { UsageError, type Io } from './io.js';

/** A file of this machine, or a UsageError that starts with `what` ("no such file" for a missing one). */
export function readLocal(path: string, what: string): Promise<Buffer> {
  return readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`${what}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
}

export async function readInputFiles(files: { host: string; guest: string }[]): Promise<FileEntry[]> {
  return Promise.all(
    files.map(async ({ host, guest }) => ({
      path: guest,
      bytes: await readLocal(host, `--file ${host}`),
    })),
  );
}

export async function readStdin(io: Io, file: string | undefined): Promise<Uint8Array> {
  if (file === undefined && io.stdinIsTTY) return new Uint8Array();
  if (file !== undefined && file !== '-') {
    return readLocal(file, `--stdin ${file}`);
  }
  return io.readStdin();
}

