/**
 * Blobs in S3 or MinIO under sha256/<digest>. Uploads are single-part with a known size (s3rver,
 * used by the tests, has no multipart), so putStream collects the bytes in memory, bounded by maxBytes.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { Client } from 'minio';
import { limitExceeded } from '../domain/index.js';
import { isDigest, sha256 } from './blobs-fs.js';
import { bytes } from './map.js';
import type { BlobStore } from './types.js';

export interface S3Options {
  endPoint: string;
  port?: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region?: string;
}

const key = (digest: string) => `sha256/${digest}`;
/** How long a health probe's answer is reused. */
const PROBE_TTL_MS = 5_000;
const isNotFound = (err: unknown) => ['NoSuchKey', 'NotFound', 'NoSuchObject'].includes((err as { code?: string }).code ?? '');

/** The blob store plus `close`, which drops the kept-alive sockets so nothing holds the process open. */
export async function makeS3BlobStore(opts: S3Options): Promise<BlobStore & { close(): void }> {
  const agent = opts.useSSL ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  const client = new Client({
    transportAgent: agent,
    endPoint: opts.endPoint,
    port: opts.port,
    useSSL: opts.useSSL,
    accessKey: opts.accessKey,
    secretKey: opts.secretKey,
    region: opts.region,
    pathStyle: true,
    // Never multipart: one PUT per blob up to S3's single-PUT maximum.
    partSize: 5 * 1024 * 1024 * 1024,
  });
  const { bucket } = opts;
  if (!(await client.bucketExists(bucket))) {
    try {
      await client.makeBucket(bucket, opts.region ?? 'us-east-1');
    } catch (err) {
      // Another node created it in between.
      if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes((err as { code?: string }).code ?? '')) throw err;
    }
  }

  // One HEAD bucket request per PROBE_TTL_MS however often /healthz is polled; concurrent pings
  // share the request in flight.
  let probed: { at: number; result: Promise<void> } | null = null;
  const probe = (): Promise<void> => {
    if (probed && Date.now() - probed.at < PROBE_TTL_MS) return probed.result;
    const result = client.bucketExists(bucket).then((exists) => {
      if (!exists) throw new Error(`bucket ${bucket} does not exist`);
    });
    // Kept as it settles; a rejection is the caller's to see, and handled here so that a cached
    // failure nobody asks for again is never "unhandled".
    result.catch(() => {});
    probed = { at: Date.now(), result };
    return result;
  };

  const has = async (digest: string) => {
    if (!isDigest(digest)) return false;
    try {
      await client.statObject(bucket, key(digest));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  };
  const upload = async (digest: string, data: Uint8Array) => {
    if (await has(digest)) return;
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    await client.putObject(bucket, key(digest), buf, buf.byteLength, { 'Content-Type': 'application/octet-stream' });
  };

  return {
    async put(data) {
      const digest = sha256(data);
      await upload(digest, data);
      return digest;
    },

    async putStream(stream, maxBytes) {
      const chunks: Uint8Array[] = [];
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of stream) {
        size += chunk.byteLength;
        if (size > maxBytes) throw limitExceeded('moduleBytes', maxBytes);
        hash.update(chunk);
        chunks.push(chunk);
      }
      const digest = hash.digest('hex');
      await upload(digest, Buffer.concat(chunks, size));
      return { digest, size };
    },

    async get(digest) {
      if (!isDigest(digest)) return null;
      try {
        const stream = await client.getObject(bucket, key(digest));
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        return bytes(Buffer.concat(chunks));
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },

    has,
    close: () => agent.destroy(),

    async delete(digest) {
      if (isDigest(digest)) await client.removeObject(bucket, key(digest));
    },

    async list(after, limit) {
      // One page (S3 answers at most 1000 keys per request), in key order after `after`. ListObjects
      // (v1) with a marker: s3rver answers ListObjectsV2 with start-after by a 500.
      const page = await client.listObjectsQuery(bucket, 'sha256/', after ? key(after) : '', { Delimiter: '', MaxKeys: Math.min(limit, 1000) });
      return page.objects.flatMap((o) => {
        const digest = o.name?.slice('sha256/'.length);
        return digest && isDigest(digest) ? [{ digest, writtenAt: o.lastModified! }] : [];
      });
    },

    kind: 's3',
    ping: probe,
  };
}
