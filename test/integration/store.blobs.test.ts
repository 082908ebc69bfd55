import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFsBlobStore } from '../../src/store/blobs-fs.js';
import { makeS3BlobStore } from '../../src/store/blobs-s3.js';
import type { BlobStore } from '../../src/store/index.js';
import { makeS3rver } from '../helpers/store.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
async function* chunks(total: number, size = 1000): AsyncIterable<Uint8Array> {
  for (let sent = 0; sent < total; sent += size) yield new Uint8Array(Math.min(size, total - sent)).fill(sent % 251);
}
const bytesOf = async (it: AsyncIterable<Uint8Array>) => {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return new Uint8Array(Buffer.concat(parts));
};

function blobContract(name: string, make: () => Promise<{ blobs: BlobStore; close(): Promise<void> }>) {
  describe(name, () => {
    let blobs: BlobStore;
    let close: () => Promise<void>;
    beforeAll(async () => ({ blobs, close } = await make()));
    afterAll(async () => close?.());

    it('put / get / has / delete, keyed by sha256', async () => {
      const data = new TextEncoder().encode(`hello ${name}`);
      const digest = await blobs.put(data);
      expect(digest).toBe(sha(data));
      expect(await blobs.has(digest)).toBe(true);
      const got = await blobs.get(digest);
      expect(got).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(got!).equals(Buffer.from(data))).toBe(true);
      await blobs.delete(digest);
      expect(await blobs.has(digest)).toBe(false);
      expect(await blobs.get(digest)).toBeNull();
      await blobs.delete(digest); // absent: no error
    });

    it('dedups: the same bytes twice are one blob', async () => {
      const data = new Uint8Array(5000).fill(7);
      expect(await blobs.put(data)).toBe(await blobs.put(data));
      const { digest } = await blobs.putStream(chunks(5000, 700), 10_000);
      expect(await blobs.has(digest)).toBe(true);
    });

    it('putStream accepts exactly maxBytes and refuses one byte more', async () => {
      const max = 4096;
      const ok = await blobs.putStream(chunks(max, 1000), max);
      expect(ok.size).toBe(max);
      expect(ok.digest).toBe(sha(await bytesOf(chunks(max, 1000))));
      expect((await blobs.get(ok.digest))!.byteLength).toBe(max);
      const tooBig = chunks(max + 1, 1000);
      await expect(blobs.putStream(tooBig, max)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED', details: { quota: 'moduleBytes', limit: String(max) } });
      expect(await blobs.has(sha(await bytesOf(chunks(max + 1, 1000))))).toBe(false);
    });

    it('cuts off a large stream with writes in flight cleanly', async () => {
      const big = chunks(4 << 20, 256 << 10);
      await expect(blobs.putStream(big, 1 << 20)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
      const ok = await blobs.putStream(chunks(1 << 20, 256 << 10), 1 << 20);
      expect(ok.size).toBe(1 << 20);
      // Let any late write callbacks land inside this test.
      await new Promise((r) => setTimeout(r, 100));
    });

    it('treats malformed digests as absent', async () => {
      expect(await blobs.get('../../etc/passwd')).toBeNull();
      expect(await blobs.has('ABC')).toBe(false);
    });
  });
}

blobContract('fs blob store', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'spindle-blobs-'));
  return {
    blobs: await makeFsBlobStore(dir),
    close: async () => {
      // A refused upload leaves no temp file behind.
      expect(await readdir(join(dir, 'tmp'))).toEqual([]);
      await rm(dir, { recursive: true, force: true });
    },
  };
});

blobContract('s3 blob store (s3rver)', async () => {
  const server = await makeS3rver();
  const blobs = await makeS3BlobStore(server.s3);
  // A second store on the same bucket: creating it again is fine.
  (await makeS3BlobStore(server.s3)).close();
  return {
    blobs,
    close: async () => {
      blobs.close();
      await server.close();
    },
  };
});
