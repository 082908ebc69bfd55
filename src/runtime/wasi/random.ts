/**
 * random_get sources. Real mode: the OS CSPRNG. Deterministic mode: xoshiro128** seeded through
 * splitmix32 from the request's seed, so the same seed yields the same byte stream. Not
 * cryptographic, and it does not need to be: determinism is the point.
 */
import { randomFillSync } from 'node:crypto';

export interface RandomSource {
  fill(dst: Uint8Array): void;
}

export const cryptoRandom: RandomSource = {
  // randomFillSync has no 64 KiB cap (unlike getRandomValues) and accepts any view.
  fill: (dst) => void randomFillSync(dst),
};

function splitmix32(state: { s: number }): number {
  let z = (state.s = (state.s + 0x9e3779b9) | 0);
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export function seededRandom(seed: number): RandomSource {
  // Fold the (up to 53-bit) seed into the splitmix state through both halves.
  const st = { s: (seed >>> 0) ^ Math.imul(Math.floor(seed / 0x100000000) | 0, 0x27d4eb2f) };
  let a = splitmix32(st), b = splitmix32(st), c = splitmix32(st), d = splitmix32(st);
  if ((a | b | c | d) === 0) a = 1; // xoshiro's only forbidden state
  const next = (): number => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t;
    d = rotl(d, 11);
    return r;
  };
  return {
    fill(dst) {
      let i = 0;
      for (; i + 4 <= dst.length; i += 4) {
        const r = next();
        dst[i] = r; dst[i + 1] = r >>> 8; dst[i + 2] = r >>> 16; dst[i + 3] = r >>> 24;
      }
      if (i < dst.length) {
        let r = next();
        for (; i < dst.length; i++, r >>>= 8) dst[i] = r;
      }
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
