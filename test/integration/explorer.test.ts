/**
 * The GraphQL explorer at /graphql: a browser's page navigation gets it, every API request goes
 * on to GraphQL as before, and INTROSPECTION=false turns it off. (It runs in Chromium in
 * test/e2e/explorer.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('the explorer at /graphql', () => {
  let on: TestServer;
  let off: TestServer;
  beforeAll(async () => {
    [on, off] = await Promise.all([startTestServer(), startTestServer({ INTROSPECTION: 'false' })]);
  });
  afterAll(async () => {
    await Promise.all([on?.close(), off?.close()]);
  });

  it('answers a page navigation with a page (the explorer, or how to build it)', async () => {
    const res = await fetch(on.graphqlUrl, { headers: { Accept: BROWSER_ACCEPT } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toMatch(/GraphQL explorer/);
  });

  it('leaves API requests to GraphQL: POST, and GET with a query', async () => {
    expect(await on.gqlOk('{ __typename }')).toEqual({ __typename: 'Query' });
    const get = await fetch(`${on.graphqlUrl}?query=${encodeURIComponent('{ __typename }')}`, { headers: { Accept: 'application/json', 'apollo-require-preflight': 'true' } });
    expect(await get.json()).toEqual({ data: { __typename: 'Query' } });
    // A GET without a query from a non-browser is Apollo's answer (not a page).
    const bare = await fetch(on.graphqlUrl, { headers: { Accept: 'application/json' } });
    expect(bare.headers.get('content-type')).not.toMatch(/text\/html/);
  });

  it('is off with INTROSPECTION=false, saying so', async () => {
    const res = await fetch(off.graphqlUrl, { headers: { Accept: BROWSER_ACCEPT } });
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('INTROSPECTION=false');
    expect(await off.gqlOk('{ __typename }')).toEqual({ __typename: 'Query' });
  });
});
