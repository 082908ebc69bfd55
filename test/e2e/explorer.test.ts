// The GraphQL explorer (GraphiQL from local assets) in real Chromium: it loads at /graphql with no
// network beyond the server, runs a query, and sends the API key the dashboard keeps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ensureDashboardBuilt, keepEvidenceOnFailure, launchBrowser, screenshot, type Browser } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { WAIT } from './pages.js';

let browser: Browser;
let server: TestServer;
let page: Page;
const foreign: string[] = [];

keepEvidenceOnFailure(() => browser);

beforeAll(async () => {
  ensureDashboardBuilt();
  server = await startTestServer({ AUTH: 'on' });
  browser = await launchBrowser();
  page = await browser.newPage();
  // Everything the page loads must come from the server itself (no CDN).
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url.replace(/\/$/, '')) && !/^(data|blob):/.test(r.url())) foreign.push(r.url());
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Runs the editor's operation and answers the response pane's text once it has one. */
async function run(p: Page): Promise<string> {
  await p.locator('.graphiql-execute-button').click();
  const result = p.locator('.result-window');
  await expect.poll(async () => (await result.innerText()).trim().length, WAIT).toBeGreaterThan(2);
  return result.innerText();
}

describe('explorer', { shuffle: false }, () => {
  it('refuses a query without a key, as the API does', async () => {
    await page.goto(`${server.url}/graphql`);
    await page.locator('.graphiql-container').waitFor(WAIT);
    expect(await run(page)).toContain('UNAUTHENTICATED');
  });

  it('sends the key the dashboard keeps and shows the answer', async () => {
    // As the dashboard stores it; and without the headers GraphiQL kept from the first visit, which would win.
    await page.evaluate(`localStorage.setItem('spindle.apiKey', ${JSON.stringify(server.adminKey)})`);
    await page.evaluate(`Object.keys(localStorage).filter((k) => k.startsWith('graphiql:')).forEach((k) => localStorage.removeItem(k))`);
    await page.reload();
    await page.locator('.graphiql-container').waitFor(WAIT);
    const answer = await run(page);
    expect(answer).toContain('"role": "admin"');
    expect(answer).not.toContain('errors');
    await screenshot(page, 'explorer');
    expect(foreign).toEqual([]);
  });
});
