/**
 * docker-compose.yml, the production stack, checked as a file (no Docker engine runs here): every
 * image pinned to an exact release, no secret written into it (each comes from the environment,
 * required, and is listed in .env.example), and only the API's port published by default.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = new URL('../../', import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as {
  services: Record<string, { image?: string; build?: unknown; ports?: string[]; profiles?: string[]; environment?: Record<string, string> }>;
};
const services = Object.entries(compose.services);

/** An exact release: a digest, a version with at least major.minor, or MinIO's RELEASE stamp. */
const EXACT_TAG = /^[^:@]+(@sha256:[0-9a-f]{64}|:(v?\d+\.\d+(\.\d+)?([-.][\w.]+)?|RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ))$/;
const SECRET = /PASSWORD|SECRET|ADMIN_KEY/;

describe('docker-compose.yml', () => {
  it('pins every image to an exact release', () => {
    const images = services.filter(([, s]) => s.image).map(([name, s]) => [name, s.image!] as const);
    expect(images.length).toBeGreaterThanOrEqual(4);
    for (const [name, image] of images) expect(image, `${name}'s image`).toMatch(EXACT_TAG);
    // The check itself: what it must refuse.
    for (const loose of ['minio/minio:latest', 'postgres:16', 'redis', 'redis:7']) expect(loose).not.toMatch(EXACT_TAG);
  });

  it('writes no secret into the file: each comes from the environment, required, and .env.example names it', () => {
    const example = readFileSync(new URL('.env.example', root), 'utf8');
    const required = new Set<string>();
    for (const [name, s] of services) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        const text = String(value);
        if (SECRET.test(key)) {
          expect(text, `${name}.${key}`).toMatch(/^\$\{[A-Z_]+:\?[^}]+\}$/);
        }
        // A URL's password part too (DATABASE_URL).
        const userinfo = /^\w+:\/\/[^:/@]+:([^@]+)@/.exec(text);
        if (userinfo) expect(userinfo[1], `${name}.${key}'s password`).toMatch(/^\$\{[A-Z_]+:\?[^}]+\}$/);
        for (const m of text.matchAll(/\$\{([A-Z_]+):\?/g)) required.add(m[1]!);
      }
    }
    expect([...required].sort()).toEqual(['MINIO_ROOT_PASSWORD', 'POSTGRES_PASSWORD', 'SPINDLE_ADMIN_KEY']);
    for (const name of required) expect(example, `.env.example names ${name}`).toMatch(new RegExp(`^${name}=$`, 'm'));
  });

  it('publishes only the API port by default (opt-in profiles aside)', () => {
    const published = services.filter(([, s]) => !s.profiles?.length && s.ports?.length).map(([name, s]) => [name, s.ports]);
    expect(published).toEqual([['api', ['4000:4000']]]);
  });
});
