import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFsBlobStore } from '../../src/store/blobs-fs.js';
import { makeS3BlobStore } from '../../src/store/blobs-s3.js';
import type { BlobStore } from '../../src/store/index.js';
import { makeS3rver } from '../helpers/store.js';
import { sleep, waitFor } from '../helpers/wait.js';

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

    it('lists blobs in digest order, a page at a time from a cursor, with when each was written', async () => {
      const before = Date.now() - 5_000; // s3rver's times are whole seconds
      const digests = await Promise.all(Array.from({ length: 5 }, (_, i) => blobs.put(new TextEncoder().encode(`listed ${name} ${i}`))));
      const all: string[] = [];
      for (let after: string | null = null; ; ) {
        const page = await blobs.list(after, 2);
        expect(page.length).toBeLessThanOrEqual(2);
        for (const b of page) expect(b.writtenAt.getTime()).toBeGreaterThan(before);
        all.push(...page.map((b) => b.digest));
        if (page.length < 2) break;
        after = page.at(-1)!.digest;
      }
      expect(all).toEqual([...all].sort());
      expect(new Set(all).size).toBe(all.length);
      for (const d of digests) expect(all).toContain(d);
      for (const d of digests) await blobs.delete(d);
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
      await sleep(100);
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

describe('blob store health probe (ping)', () => {
  it('fs: answers while its directory is there, fails once it is gone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spindle-blobs-'));
    const blobs = await makeFsBlobStore(dir);
    expect(blobs.kind).toBe('fs');
    await expect(blobs.ping()).resolves.toBeUndefined();
    await rm(dir, { recursive: true, force: true });
    await expect(blobs.ping()).rejects.toThrow(/ENOENT/);
  });

  it('s3: answers while the server does, then fails once the server is gone (after its 5 s cache)', { timeout: 30_000 }, async () => {
    const server = await makeS3rver();
    const blobs = await makeS3BlobStore(server.s3);
    try {
      expect(blobs.kind).toBe('s3');
      await expect(blobs.ping()).resolves.toBeUndefined();
      await server.close();
      // Within the cache window the last answer stands (one request per 5 s however often polled).
      await expect(blobs.ping()).resolves.toBeUndefined();
      const failure = await waitFor('the cached answer to expire', () => blobs.ping().then(() => null, (err: unknown) => err), { timeoutMs: 15_000, everyMs: 250 });
      expect(failure).toBeInstanceOf(Error);
    } finally {
      blobs.close();
    }
  });
});
