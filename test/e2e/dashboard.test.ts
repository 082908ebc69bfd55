// The dashboard in real Chromium against a real server: register, submit, watch tasks finish live,
// read output, cancel. Every page is saved as a screenshot in test-results/screenshots/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ensureDashboardBuilt, keepEvidenceOnFailure, launchBrowser, screenshot, type Browser } from '../helpers/browser.js';
import { PHONE, WAIT, connected, registerByWat, row, submitFromForm, titleStatus, wat } from './pages.js';

let browser: Browser;
let server: { url: string; close(): Promise<void> };
let page: Page;

async function startServer(): Promise<typeof server> {
  // E2E_BASE_URL runs the suite against a server that is already up (e.g. `npm start`).
  if (process.env.E2E_BASE_URL) return { url: process.env.E2E_BASE_URL, close: async () => {} };
  const { startTestServer } = await import('../helpers/server.js');
  return startTestServer();
}

keepEvidenceOnFailure(() => browser);

beforeAll(async () => {
  ensureDashboardBuilt();
  server = await startServer();
  browser = await launchBrowser();
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('dashboard', () => {
  it('opens on the overview with a live connection', async () => {
    await page.goto(server.url);
    await page.getByRole('heading', { name: 'Overview' }).waitFor(WAIT);
    await connected(page);
    await page.locator('[data-count="SUCCEEDED"]').waitFor(WAIT);
    expect(await page.getByRole('status').filter({ hasText: 'Live' }).count()).toBe(1);
  });

  it('registers agents by pasting WAT', async () => {
    await registerByWat(page, server.url, 'e2e-hello', wat('hello'));
    await registerByWat(page, server.url, 'e2e-spin', wat('infinite_loop'));
    expect(await page.locator('li[data-agent]').count()).toBeGreaterThanOrEqual(2);
  });

  it('shows submitted tasks turning SUCCEEDED live, without a reload', async () => {
    // A second tab watches the task list while the first one submits.
    const watcher = await browser.newPage();
    await watcher.goto(`${server.url}/#/tasks`);
    await connected(watcher);
    await watcher.evaluate('window.__notReloaded = true');

    await page.goto(`${server.url}/#/agents?agent=e2e-hello`);
    const ids = await submitFromForm(page, 'e2e-hello', 3);
    expect(ids).toHaveLength(3);
    for (const id of ids) {
      await row(page, id, 'SUCCEEDED').waitFor(WAIT); // the "Just submitted" table on the same page
      await row(watcher, id, 'SUCCEEDED').waitFor(WAIT); // the live task list in the other tab
    }
    expect(await watcher.evaluate('window.__notReloaded')).toBe(true);
    await screenshot(page, 'agents');
    await screenshot(watcher, 'tasks');
    await watcher.close();
  });

  it('opens a task and reads its stdout', async () => {
    await page.goto(`${server.url}/#/tasks?agent=e2e-hello`);
    await page.locator('tr[data-status="SUCCEEDED"] a').first().click();
    await page.getByRole('heading', { name: /^Task / }).waitFor(WAIT);
    const stdout = page.locator('pre[data-stream="stdout"]');
    await stdout.filter({ hasText: 'hello, world' }).waitFor(WAIT);
    expect(await page.locator('[data-field="exit-code"]').textContent()).toBe('0');
    await page.locator('tr[data-attempt="1"]').waitFor(WAIT);
    await screenshot(page, 'task');
  });

  it('cancels a long-running task', async () => {
    await page.goto(`${server.url}/#/agents?agent=e2e-spin`);
    const [id] = await submitFromForm(page, 'e2e-spin', 1, async (p) => {
      await p.getByText('Limits and retry policy').click();
      await p.locator('input[name="task-timeoutMs"]').fill('120000');
    });
    await page.goto(`${server.url}/#/tasks/${encodeURIComponent(id)}`);
    await titleStatus(page, 'RUNNING').waitFor(WAIT);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await titleStatus(page, 'CANCELLED').waitFor(WAIT);
    await page.locator('[data-field="outcome"]').filter({ hasText: 'cancelled' }).waitFor(WAIT);
    await screenshot(page, 'task-cancelled');

    // Retry puts it back in the queue; it runs (forever) again until cancelled once more.
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.waitForURL(/#\/tasks\/.+/);
    await titleStatus(page, 'RUNNING').waitFor(WAIT);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await titleStatus(page, 'CANCELLED').waitFor(WAIT);
  });

  it('shows counts on the overview and fits a phone screen', async () => {
    await page.goto(server.url);
    const succeeded = page.locator('[data-count="SUCCEEDED"] strong');
    await succeeded.waitFor(WAIT);
    await page.waitForTimeout(1200); // one stats push: the chart has the finished tasks
    expect(Number((await succeeded.textContent())?.replace(/\D/g, ''))).toBeGreaterThanOrEqual(3);
    await screenshot(page, 'overview');

    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'overview-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    const taskHref = await page.evaluate(`fetch('graphql', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ tasks(filter: { status: [SUCCEEDED] }, first: 1) { edges { node { id } } } }' }) })
      .then((r) => r.json()).then((r) => 'tasks/' + r.data.tasks.edges[0].node.id)`);
    const phone = await browser.newPage(PHONE);
    for (const [name, hash] of [['overview', ''], ['tasks', 'tasks'], ['agents', 'agents'], ['task', taskHref]] as const) {
      await phone.goto(`${server.url}/#/${hash}`);
      await connected(phone);
      await phone.waitForTimeout(300);
      // Nothing wider than the screen: the page never scrolls sideways.
      expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
      await screenshot(phone, `phone-${name}`);
    }
    await phone.close();
  });
});
