/**
 * Blobs in a local directory: <dir>/sha256/<first two hex>/<digest>. Writes go to <dir>/tmp and are
 * renamed into place, so a reader never sees a partial blob and a crash leaves only a temp file.
 */
import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { constants, createWriteStream } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { limitExceeded } from '../domain/index.js';
import { bytes } from './map.js';
import type { BlobStore } from './types.js';

/** Digests come from users too: anything but 64 lowercase hex characters is simply absent. */
export const isDigest = (d: string): boolean => /^[0-9a-f]{64}$/.test(d);

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export async function makeFsBlobStore(dir: string): Promise<BlobStore> {
  const tmp = join(dir, 'tmp');
  await mkdir(tmp, { recursive: true });
  const pathOf = (digest: string) => join(dir, 'sha256', digest.slice(0, 2), digest);
  const exists = (p: string) => stat(p).then(() => true, () => false);

  /** Moves a finished temp file into place (or drops it when the blob is already there). */
  async function commit(tmpPath: string, digest: string) {
    const final = pathOf(digest);
    if (await exists(final)) return void (await rm(tmpPath, { force: true }));
    await mkdir(join(dir, 'sha256', digest.slice(0, 2)), { recursive: true });
    await rename(tmpPath, final);
  }

  return {
    async put(data) {
      const digest = sha256(data);
      if (await exists(pathOf(digest))) return digest;
      const tmpPath = join(tmp, randomUUID());
      await writeFile(tmpPath, data);
      await commit(tmpPath, digest);
      return digest;
    },

    async putStream(stream, maxBytes) {
      const tmpPath = join(tmp, randomUUID());
      const out = createWriteStream(tmpPath);
      // Write errors surface below; a write still in flight when we give up fails after destroy(),
      // and without a listener that 'error' event would be an uncaught exception.
      let failed: Error | null = null;
      out.on('error', (err) => (failed ??= err));
      const hash = createHash('sha256');
      let size = 0;
      try {
        for await (const chunk of stream) {
          size += chunk.byteLength;
          // Checked as bytes arrive: an oversized upload is cut off, never buffered or written whole.
          if (size > maxBytes) throw limitExceeded('moduleBytes', maxBytes);
          hash.update(chunk);
          if (!out.write(chunk)) await once(out, 'drain');
          if (failed) throw failed;
        }
        out.end();
        await finished(out);
      } catch (err) {
        out.destroy();
        await finished(out).catch(() => {});
        await rm(tmpPath, { force: true });
        throw err;
      }
      const digest = hash.digest('hex');
      await commit(tmpPath, digest);
      return { digest, size };
    },

    async get(digest) {
      if (!isDigest(digest)) return null;
      try {
        return bytes(await readFile(pathOf(digest)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },

    async has(digest) {
      return isDigest(digest) && exists(pathOf(digest));
    },

    async delete(digest) {
      if (isDigest(digest)) await rm(pathOf(digest), { force: true });
    },

    async list(after, limit) {
      const root = join(dir, 'sha256');
      const shards = (await readdir(root).catch(() => [] as string[])).filter((s) => /^[0-9a-f]{2}$/.test(s)).sort();
      const out: { digest: string; writtenAt: Date }[] = [];
      for (const shard of shards) {
        if (after && shard < after.slice(0, 2)) continue;
        const names = (await readdir(join(root, shard))).filter((d) => isDigest(d) && (!after || d > after)).sort();
        for (const digest of names) {
          const s = await stat(join(root, shard, digest)).catch(() => null); // deleted meanwhile
          if (s) out.push({ digest, writtenAt: s.mtime });
          if (out.length >= limit) return out;
        }
      }
      return out;
    },

    kind: 'fs',
    // Every write starts in tmp/: if it is gone or read-only, no blob can be stored.
    ping: () => access(tmp, constants.R_OK | constants.W_OK),
  };
}
