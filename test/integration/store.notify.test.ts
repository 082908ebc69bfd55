import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStore, type Store } from '../../src/store/index.js';
import { databaseUrl, makeTestStore, type TestStore } from '../helpers/store.js';
import { sleep } from '../helpers/wait.js';

let ts: TestStore;
beforeAll(async () => {
  ts = await makeTestStore();
});
afterAll(async () => ts?.cleanup());

const heard = (store: Store) =>
  new Promise<void>((resolve) => {
    const off = store.onQueued(() => {
      off();
      resolve();
    });
  });

describe('queued notifications', () => {
  it('onQueued hears notifyQueued; unsubscribe stops it', async () => {
    const got = heard(ts.store);
    await ts.store.notifyQueued();
    await got;
    let calls = 0;
    const off = ts.store.onQueued(() => calls++);
    off();
    await ts.store.notifyQueued();
    await sleep(200); // nothing heard within 200 ms
    expect(calls).toBe(0);
  });

  it.runIf(databaseUrl)('crosses Store instances on PostgreSQL (NOTIFY/LISTEN), not schemas', async () => {
    const other = await makeStore(ts.options);
    const elsewhere = await makeTestStore();
    try {
      let strayCalls = 0;
      elsewhere.store.onQueued(() => strayCalls++);
      const got = heard(other);
      await ts.store.notifyQueued();
      await got;
      await sleep(200); // nor in the other schema within 200 ms
      expect(strayCalls).toBe(0);
    } finally {
      await other.close();
      await elsewhere.cleanup();
    }
  });

  it.runIf(databaseUrl)('the LISTEN connection comes back after the server drops it', async () => {
    const pg = (await import('pg')).default;
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    try {
      const { rowCount } = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
        `spindle-listen:${ts.options.pgSchema}`,
      ]);
      expect(rowCount).toBe(1);
    } finally {
      await admin.end();
    }
    let heardIt = false;
    const off = ts.store.onQueued(() => (heardIt = true));
    // Reconnecting takes a moment (backoff from 250 ms): keep notifying until heard.
    for (let i = 0; i < 50 && !heardIt; i++) {
      await ts.store.notifyQueued();
      await sleep(100);
    }
    off();
    expect(heardIt).toBe(true);
  });

  it('ping works and close is idempotent', async () => {
    const extra = await makeTestStore();
    await extra.store.ping();
    await extra.store.close();
    await extra.store.close();
    await extra.cleanup();
  });
});
