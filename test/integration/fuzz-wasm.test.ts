// Wasm fuzzing: seeded mutations (byte and bit flips, inserts, deletes, truncation, section
// splices and duplicates, LEB size corruption) of every valid fixture module, fed to the sandbox.
// Every case must be classified — refused by inspection as INVALID_MODULE, or run to one of the
// runtime's outcome kinds other than host_error (which would be our fault, not the mutant's) —
// and the host must neither crash nor lose workers.
//
//   FUZZ_CASES=100000 FUZZ_SEED=7 npx vitest run test/integration/fuzz    (a longer run)
//
// In CI: FUZZ_CASES (default 10 000) through runtime.inspect + runtime.run directly, and
// FUZZ_API_CASES (default 300) through the real GraphQL API (registerAgent, then submitTasks).
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTCOME_KINDS, SpindleError } from '../../src/domain/index.js';
import { makeRuntime } from '../../src/runtime/index.js';
import type { Runtime } from '../../src/runtime/types.js';
import { describeServiceFree } from '../helpers/chaos.js';
import { loadWasm, loadWat, sha256Hex, text } from '../helpers/fixtures.js';
import { startTestServer, toBase64, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const CASES = Number(process.env.FUZZ_CASES ?? 10_000);
const API_CASES = Number(process.env.FUZZ_API_CASES ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
/** Small limits: a mutant that loops or floods ends fast (fuel first, the timeout as a backstop). */
const LIMITS = { timeoutMs: 1000, memoryBytes: 16 << 20, maxOutputBytes: 4096, fuel: 1_000_000n };
const IN_FLIGHT = 16;

// ---------- seeded mutation ----------

/** mulberry32: small, fast, good enough to spread mutations; the same seed gives the same cases. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]! };
}
type Rng = ReturnType<typeof prng>;

/** Top-level sections [start, end) of a well-formed module (id byte, LEB size, payload). */
function sections(bytes: Uint8Array): { id: number; start: number; end: number }[] {
  const out: { id: number; start: number; end: number }[] = [];
  let p = 8;
  while (p < bytes.length) {
    const start = p;
    const id = bytes[p++]!;
    let size = 0;
    for (let shift = 0; shift <= 28 && p < bytes.length; shift += 7) {
      const b = bytes[p++]!;
      size += (b & 0x7f) * 2 ** shift; // arithmetic, not bit ops: stays positive
      if (!(b & 0x80)) break;
    }
    if (size > bytes.length - p) break; // also ends the scan of a corrupted mutant
    p += size;
    out.push({ id, start, end: p });
  }
  return out;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

const MUTATORS = {
  byteFlip(r: Rng, b: Uint8Array) {
    const out = b.slice();
    for (let n = 1 + r.int(4); n > 0; n--) out[8 + r.int(out.length - 8)] ^= 1 + r.int(255);
    return out;
  },
  bitFlip(r: Rng, b: Uint8Array) {
    const out = b.slice();
    out[r.int(out.length)] ^= 1 << r.int(8);
    return out;
  },
  interesting(r: Rng, b: Uint8Array) {
    const out = b.slice();
    out[8 + r.int(out.length - 8)] = r.pick([0x00, 0x01, 0x7f, 0x80, 0xff, 0x40, 0x41, 0x0b, 0x10, 0x11]);
    return out;
  },
  insert(r: Rng, b: Uint8Array, _donors: Uint8Array[]) {
    const at = 8 + r.int(b.length - 7);
    const junk = Uint8Array.from({ length: 1 + r.int(16) }, () => r.int(256));
    return concat(b.subarray(0, at), junk, b.subarray(at));
  },
  delete(r: Rng, b: Uint8Array) {
    const at = 8 + r.int(b.length - 8);
    return concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + r.int(32))));
  },
  truncate(r: Rng, b: Uint8Array) {
    return b.subarray(0, r.int(b.length));
  },
  spliceSection(r: Rng, b: Uint8Array, donors: Uint8Array[]) {
    const mine = sections(b);
    const donor = r.pick(donors);
    const theirs = sections(donor);
    if (!mine.length || !theirs.length) return MUTATORS.byteFlip(r, b);
    const s = r.pick(theirs);
    const piece = donor.subarray(s.start, s.end);
    const target = r.pick(mine);
    // Replace one of ours with theirs, or insert theirs before one of ours.
    return r.next() < 0.5 ? concat(b.subarray(0, target.start), piece, b.subarray(target.end)) : concat(b.subarray(0, target.start), piece, b.subarray(target.start));
  },
  duplicateSection(r: Rng, b: Uint8Array) {
    const mine = sections(b);
    if (!mine.length) return MUTATORS.byteFlip(r, b);
    const s = r.pick(mine);
    return concat(b.subarray(0, s.end), b.subarray(s.start, s.end), b.subarray(s.end));
  },
  /** Within the data section: what the program reads changes, the module stays valid. */
  dataFlip(r: Rng, b: Uint8Array) {
    const data = sections(b).filter((x) => x.id === 11);
    if (!data.length) return MUTATORS.constTweak(r, b);
    const d = r.pick(data);
    const out = b.slice();
    for (let n = 1 + r.int(8); n > 0; n--) out[d.start + 2 + r.int(Math.max(1, d.end - d.start - 2))] = r.int(256);
    return out;
  },
  /** An i32/i64.const immediate in the code changes (continuation bit kept): new addresses, counts, exit codes. */
  constTweak(r: Rng, b: Uint8Array) {
    const code = sections(b).find((x) => x.id === 10);
    if (!code) return MUTATORS.byteFlip(r, b);
    const spots: number[] = [];
    for (let p = code.start + 2; p < code.end - 1; p++) if (b[p] === 0x41 || b[p] === 0x42) spots.push(p + 1);
    if (!spots.length) return MUTATORS.byteFlip(r, b);
    const out = b.slice();
    for (let n = 1 + r.int(3); n > 0; n--) {
      const at = r.pick(spots);
      out[at] = (out[at]! & 0x80) | r.int(128);
    }
    return out;
  },
  corruptSize(r: Rng, b: Uint8Array) {
    const mine = sections(b);
    if (!mine.length) return MUTATORS.byteFlip(r, b);
    const s = r.pick(mine);
    const out = b.slice();
    out[s.start + 1] = r.pick([0x00, 0x7f, 0xff, (out[s.start + 1]! + 1) & 0xff, (out[s.start + 1]! - 1) & 0xff]);
    return out;
  },
} as const;
type MutatorName = keyof typeof MUTATORS;
const MUTATOR_NAMES = Object.keys(MUTATORS) as MutatorName[];

function* mutants(seeds: { name: string; bytes: Uint8Array }[], count: number, seed: number) {
  const r = prng(seed);
  const donors = seeds.map((s) => s.bytes);
  for (let i = 0; i < count; i++) {
    const base = r.pick(seeds);
    const how = r.pick(MUTATOR_NAMES);
    let bytes = MUTATORS[how](r, base.bytes, donors);
    // Sometimes stack a second mutation.
    if (r.next() < 0.25) bytes = MUTATORS[r.pick(MUTATOR_NAMES)](r, bytes, donors);
    yield { i, base: base.name, how, bytes };
  }
}

async function validSeeds() {
  const dir = new URL('../fixtures/wat/', import.meta.url);
  const names = (await readdir(dir)).filter((f) => f.endsWith('.wat')).map((f) => f.slice(0, -4));
  const seeds: { name: string; bytes: Uint8Array }[] = [];
  for (const name of names) seeds.push({ name, bytes: await loadWat(name) });
  for (const name of ['copy', 'sha256sum', 'malloc_until_null']) seeds.push({ name, bytes: await loadWasm(name) });
  return seeds;
}

// ---------- the runs ----------

interface Tally {
  cases: number;
  refused: Record<string, number>;
  outcomes: Record<string, number>;
  unclassified: string[];
}

const newTally = (): Tally => ({ cases: 0, refused: {}, outcomes: {}, unclassified: [] });
const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

describeServiceFree('wasm fuzzing through the runtime', () => {
  let runtime: Runtime;
  let seeds: { name: string; bytes: Uint8Array }[];
  beforeAll(async () => {
    runtime = makeRuntime({ workers: 2 });
    seeds = await validSeeds();
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it(`classifies ${CASES} seeded mutants (seed ${SEED}); the host survives`, { timeout: Math.max(600_000, CASES * 60) }, async () => {
    const tally = newTally();
    const started = Date.now();
    const inFlight = new Set<Promise<void>>();
    for (const m of mutants(seeds, CASES, SEED)) {
      tally.cases++;
      const where = `case ${m.i} (${m.how} of ${m.base})`;
      let accepted = false;
      try {
        await runtime.inspect(m.bytes);
        accepted = true;
      } catch (err) {
        if (err instanceof SpindleError && err.code === 'INVALID_MODULE') bump(tally.refused, 'INVALID_MODULE');
        else tally.unclassified.push(`${where}: inspect threw ${String(err)}`);
      }
      if (!accepted) continue;
      const run = runtime
        .run({ module: { digest: sha256Hex(m.bytes), bytes: m.bytes }, args: ['fuzz'], env: {}, stdin: new TextEncoder().encode('fuzz input\n'), limits: LIMITS })
        .then(
          (outcome) => {
            if ((OUTCOME_KINDS as readonly string[]).includes(outcome.kind)) bump(tally.outcomes, outcome.kind);
            else tally.unclassified.push(`${where}: outcome ${String(outcome.kind)}`);
            if (outcome.kind === 'host_error') tally.unclassified.push(`${where}: host_error ${outcome.error}`);
          },
          (err: unknown) => void tally.unclassified.push(`${where}: run rejected ${String(err)}`),
        );
      const tracked = run.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const ran = Object.values(tally.outcomes).reduce((a, b) => a + b, 0);
    console.log(
      `fuzz (runtime): ${tally.cases} cases in ${((Date.now() - started) / 1000).toFixed(1)} s, seed ${SEED}: ` +
        `${tally.refused.INVALID_MODULE ?? 0} refused as INVALID_MODULE, ${ran} ran → ${JSON.stringify(tally.outcomes)}; unclassified ${tally.unclassified.length}`,
    );
    expect(tally.unclassified).toEqual([]);
    expect((tally.refused.INVALID_MODULE ?? 0) + ran).toBe(CASES);
    expect(ran).toBeGreaterThan(0);
    // Still whole: the pool is full and a clean module runs normally.
    expect(runtime.stats().workers).toBe(2);
    const hello = await loadWat('hello');
    const ok = await runtime.run({ module: { digest: sha256Hex(hello), bytes: hello }, args: [], env: {}, stdin: new Uint8Array(0), limits: LIMITS });
    expect(ok.kind).toBe('exited');
    expect(text(ok.stdout)).toBe('hello, world\n');
  });
});

describe('wasm fuzzing through the GraphQL API', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    await s?.close();
  });

  it(`registers ${API_CASES} mutants with registerAgent and runs the accepted ones; every one classified`, { timeout: 600_000 }, async () => {
    const seeds = await validSeeds();
    const refused: Record<string, number> = {};
    const unexpected: string[] = [];
    const accepted: string[] = [];
    for (const m of mutants(seeds, API_CASES, SEED ^ 0xa11)) {
      const r = await s.gql(`mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { name } }`, {
        input: { name: `fuzz-${m.i}`, wasmBase64: toBase64(m.bytes) },
      });
      const code = r.errors?.[0]?.extensions?.code as string | undefined;
      if (!r.errors) accepted.push(`fuzz-${m.i}`);
      else if (code === 'INVALID_MODULE' || code === 'BAD_USER_INPUT') bump(refused, code);
      else unexpected.push(`case ${m.i} (${m.how} of ${m.base}): ${JSON.stringify(r.errors)}`);
    }
    expect(unexpected).toEqual([]);
    const limits = { timeoutMs: LIMITS.timeoutMs, memoryBytes: LIMITS.memoryBytes, maxOutputBytes: LIMITS.maxOutputBytes, fuel: String(LIMITS.fuel) };
    const ids: string[] = [];
    for (let i = 0; i < accepted.length; i += 100) {
      const batch = accepted.slice(i, i + 100).map((agent) => ({ agent, args: ['fuzz'], stdin: 'fuzz input\n', limits, retryPolicy: { maxAttempts: 1 } }));
      const { submitTasks } = await s.gqlOk(`mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }`, { inputs: batch });
      ids.push(...submitTasks.map((t: { id: string }) => t.id));
    }
    await waitFor(
      'every fuzz task to end',
      async () => {
        const { tasks } = await s.gqlOk(`{ tasks(filter: { status: [QUEUED, RETRYING, RUNNING] }, first: 1) { totalCount } }`);
        return tasks.totalCount === 0;
      },
      { timeoutMs: 300_000, everyMs: 100 },
    );
    const outcomes: Record<string, number> = {};
    const wanted = new Set(ids);
    let after: string | null = null;
    do {
      const { tasks }: any = await s.gqlOk(`query ($after: String) { tasks(first: 500, after: $after) { edges { node { id status outcome } } pageInfo { hasNextPage endCursor } } }`, { after });
      for (const e of tasks.edges) if (wanted.has(e.node.id)) bump(outcomes, `${e.node.status}/${e.node.outcome}`);
      after = tasks.pageInfo.hasNextPage ? tasks.pageInfo.endCursor : null;
    } while (after);
    const ended = Object.values(outcomes).reduce((a, b) => a + b, 0);
    console.log(`fuzz (API): ${API_CASES} registered: ${accepted.length} accepted, refused ${JSON.stringify(refused)}; ${ids.length} ran → ${JSON.stringify(outcomes)}`);
    expect(ended).toBe(ids.length);
    for (const key of Object.keys(outcomes)) {
      const [status, outcome] = key.split('/');
      expect(['SUCCEEDED', 'FAILED']).toContain(status);
      expect(OUTCOME_KINDS).toContain(outcome);
      // host_error means our fault, not the guest's: a mutant must be refused or end in its own outcome.
      expect(outcome, key).not.toBe('host_error');
    }
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  });
});
