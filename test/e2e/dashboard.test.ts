// The dashboard in real Chromium against a real server: register, submit, watch tasks finish live,
// read output, cancel, act on tasks in bulk, delete an agent. Every page is saved as a screenshot in test-results/screenshots/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ensureDashboardBuilt, keepEvidenceOnFailure, launchBrowser, screenshot, type Browser } from '../helpers/browser.js';
import { makeAttemptResult } from '../helpers/attempts.js';
import type { TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { PHONE, WAIT, connected, registerByWat, row, submitFromForm, titleStatus, wat } from './pages.js';

let browser: Browser;
let server: { url: string; close(): Promise<void> };
/** The server when this suite started it: its store is at hand. */
let local: TestServer | undefined;
let page: Page;

async function startServer(): Promise<typeof server> {
  // E2E_BASE_URL runs the suite against a server that is already up (e.g. `npm start`).
  if (process.env.E2E_BASE_URL) return { url: process.env.E2E_BASE_URL, close: async () => {} };
  const { startTestServer } = await import('../helpers/server.js');
  return (local = await startTestServer());
}

keepEvidenceOnFailure(() => browser);

/** Clicks the task page's Cancel and goes ahead in its confirmation. */
async function cancelConfirmed(p: Page): Promise<void> {
  await p.getByRole('button', { name: 'Cancel', exact: true }).click();
  await p.getByRole('dialog', { name: 'Cancel task?' }).getByRole('button', { name: 'Cancel task' }).click();
}

/** A GraphQL call from the page (its origin and key), as the dashboard makes them. */
async function inPage(p: Page, query: string, variables: Record<string, unknown>): Promise<unknown> {
  return p.evaluate(
    async ([q, v]) => (await fetch('graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: q, variables: v }) })).json(),
    [query, variables] as const,
  );
}

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

// One user's session, step by step: each test goes on from the agents, tasks and page the one
// before left, so the steps keep their order under CI's --sequence.shuffle.
describe('dashboard', { shuffle: false }, () => {
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

  it('builds agents from AssemblyScript and C source, and shows where a broken one fails', async () => {
    await page.goto(`${server.url}/#/agents`);
    await page.getByRole('button', { name: '…or write source for the server to build' }).click();
    await page.locator('input[name="agent-name"]').fill('e2e-as');
    const code = page.locator('textarea[name="source-code"]');
    await code.fill('let x: i32 = "oops";\n');
    await page.getByRole('button', { name: 'Register agent' }).click();
    const diagnostics = page.getByRole('list', { name: 'Build diagnostics' });
    await diagnostics.waitFor({ ...WAIT, timeout: 60_000 });
    expect(await diagnostics.textContent()).toContain("main.ts:1:14 TS2322 Type '~lib/string/String' is not assignable to type 'i32'.");
    await screenshot(page, 'agents-build-failed');
    await code.fill('console.log("built by the server");\n');
    await page.getByRole('button', { name: 'Register agent' }).click();
    // The build's progress comes live (buildUpdated) until it ends.
    await page.locator('[data-build-status="SUCCEEDED"]').waitFor({ ...WAIT, timeout: 60_000 });
    await page.locator('li[data-agent="e2e-as"]').waitFor(WAIT);
    expect(await diagnostics.count()).toBe(0);
    // C too (clang compiled to WebAssembly, run by the server's runtime).
    await page.locator('select[name="source-language"]').selectOption('C');
    await code.fill('#include <stdio.h>\nint main(void) { puts("C from the dashboard"); }\n');
    await page.locator('input[name="agent-name"]').fill('e2e-c');
    await page.getByRole('button', { name: 'Register agent' }).click();
    await page.locator('li[data-agent="e2e-c"]').waitFor({ ...WAIT, timeout: 90_000 });
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
    // The timeline and the table give the same wall time (the table's guest run is a column of its own).
    const wall = await page.locator('tr[data-attempt="1"] [data-field="wall"]').textContent();
    expect(await page.locator('.timeline .t-text span[title]').first().textContent()).toBe(`${wall} wall`);
    // retryTask answers CONFLICT for a task that succeeded: the button says so instead.
    expect(await page.getByRole('button', { name: 'Retry' }).isDisabled()).toBe(true);
    await screenshot(page, 'task');
  });

  it('submits to the version picked in the form', async () => {
    await registerByWat(page, server.url, 'e2e-versions', wat('hello'));
    await registerByWat(page, server.url, 'e2e-versions', wat('exit_code')); // version 2
    await page.goto(`${server.url}/#/agents?agent=e2e-versions`);
    await page.locator('select[name="submit-version"] option[value="2"]').waitFor({ ...WAIT, state: 'attached' });
    const [id] = await submitFromForm(page, 'e2e-versions', 1, async (p) => {
      await p.locator('select[name="submit-version"]').selectOption('1');
    });
    await page.goto(`${server.url}/#/tasks/${encodeURIComponent(id!)}`);
    await page.getByRole('link', { name: 'e2e-versions v1' }).waitFor(WAIT);
    await page.locator('pre[data-stream="stdout"]').filter({ hasText: 'hello, world' }).waitFor(WAIT);
  });

  // Needs the store to plant the late result: only against a server this suite started.
  it.skipIf(!!process.env.E2E_BASE_URL)("marks a late result as stale and shows the task's own result", async () => {
    const { submitTask: { id } } = await local!.gqlOk(`mutation { submitTask(input: { agent: "e2e-hello" }) { id } }`);
    await waitFor('the task to succeed', async () => (await local!.gqlOk(`query ($id: ID!) { task(id: $id) { status } }`, { id })).task.status === 'SUCCEEDED', { timeoutMs: 30_000, everyMs: 100 });
    // A node that had lost the task sends its result for attempt 1 afterwards: truncated, exit 7.
    await local!.spindle.store.tasks.finish([
      makeAttemptResult({ taskId: id, n: 1, node: 'stalled-node', exitCode: 7, stdout: new TextEncoder().encode('late'), stdoutTruncated: true }),
    ]);
    await page.goto(`${server.url}/#/tasks/${encodeURIComponent(id)}`);
    const stale = page.locator('tr[data-attempt="1"][data-stale] .stale-tag');
    await stale.waitFor(WAIT);
    expect(await stale.getAttribute('title')).toBe('a late result from a node that had lost the task; it did not change the task');
    expect(await page.locator('.timeline li[data-stale] .stale-tag').count()).toBe(1);
    expect(await page.locator('tr[data-attempt="1"]:not([data-stale])').count()).toBe(1);
    // The facts and output are the live attempt's: its stdout, not truncated (the stale one was).
    const output = page.locator('[data-panel="output"]');
    await output.locator('pre[data-stream="stdout"]').filter({ hasText: 'hello, world' }).waitFor(WAIT);
    expect(await page.locator('[data-field="exit-code"]').textContent()).toBe('0');
    expect(await output.locator('.warn-tag').filter({ hasText: 'truncated' }).count()).toBe(0);
    // Each attempt keeps its own output below, the stale one's truncated "late" included.
    const staleOutput = page.locator('details[data-attempt-output="1"][data-stale]');
    await staleOutput.locator('summary').click();
    await staleOutput.locator('pre[data-stream="stdout"]').filter({ hasText: 'late' }).waitFor(WAIT);
    expect(await staleOutput.locator('.warn-tag').filter({ hasText: 'truncated' }).count()).toBe(1);
    await screenshot(page, 'task-stale');
  });

  it('cancels a long-running task', async () => {
    await page.goto(`${server.url}/#/agents?agent=e2e-spin`);
    const [id] = await submitFromForm(page, 'e2e-spin', 1, async (p) => {
      await p.getByText('Limits and retry policy').click();
      await p.locator('input[name="task-timeoutMs"]').fill('120000');
    });
    await page.goto(`${server.url}/#/tasks/${encodeURIComponent(id)}`);
    await titleStatus(page, 'RUNNING').waitFor(WAIT);
    // Cancel asks first; going back leaves the task running.
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel task?' });
    await dialog.waitFor(WAIT);
    expect(await dialog.textContent()).toContain(`Cancel task ${id}? Its run is stopped.`);
    await dialog.getByRole('button', { name: 'Go back' }).click();
    await dialog.waitFor({ ...WAIT, state: 'hidden' });
    expect(await titleStatus(page, 'RUNNING').count()).toBe(1);
    await cancelConfirmed(page);
    await titleStatus(page, 'CANCELLED').waitFor(WAIT);
    await page.locator('[data-field="outcome"]').filter({ hasText: 'cancelled' }).waitFor(WAIT);
    await screenshot(page, 'task-cancelled');

    // Retry puts it back in the queue; it runs (forever) again until cancelled once more.
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.waitForURL(/#\/tasks\/.+/);
    await titleStatus(page, 'RUNNING').waitFor(WAIT);
    // The retry gave a fresh budget: its attempt counts as the first of it.
    await page.locator('[data-field="attempts"]').filter({ hasText: /^1 of \d+ \(2 in all, retried by hand\)$/ }).waitFor(WAIT);
    await cancelConfirmed(page);
    await titleStatus(page, 'CANCELLED').waitFor(WAIT);
    // Two attempts: each keeps its own output, one click away.
    await page.locator('details[data-attempt-output="2"]').waitFor(WAIT);
    await page.locator('details[data-attempt-output="1"] summary').click();
    await page.locator('details[data-attempt-output="1"] pre[data-stream="stdout"]').waitFor(WAIT);
  });

  it('cancels and deletes selected rows, and all tasks matching the filter, after confirming', async () => {
    await registerByWat(page, server.url, 'e2e-bulk', wat('hello'));
    // 30 tasks that wait an hour: more than a page of 25.
    const later = new Date(Date.now() + 3_600_000).toISOString();
    await inPage(page, `mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }`, {
      inputs: Array.from({ length: 30 }, () => ({ agent: 'e2e-bulk', runAt: later })),
    });
    await page.goto(`${server.url}/#/tasks?agent=e2e-bulk`);
    await page.locator('tr[data-status="QUEUED"]').nth(24).waitFor(WAIT);

    // Two rows.
    const picked = await page.locator('tr[data-task-id]').evaluateAll((rows) => rows.slice(0, 2).map((r) => r.getAttribute('data-task-id')!));
    for (const id of picked) await page.getByRole('checkbox', { name: `Select task ${id.slice(-8)}` }).check();
    await page.getByRole('button', { name: 'Cancel selected' }).click();
    const cancel = page.getByRole('dialog', { name: 'Cancel tasks?' });
    expect(await cancel.textContent()).toContain('Cancel 2 tasks selected?');
    await cancel.getByRole('button', { name: 'Cancel 2 tasks' }).click();
    await page.getByRole('status').filter({ hasText: 'Cancelled 2 tasks.' }).waitFor(WAIT);
    for (const id of picked) await row(page, id, 'CANCELLED').waitFor(WAIT);

    // Every task matching the filter: the 28 still queued are cancelled (the 2 are no longer cancellable).
    await page.getByRole('checkbox', { name: 'Select all tasks on this page' }).check();
    await page.getByRole('button', { name: 'Select all 30 tasks matching the filter' }).click();
    await page.getByRole('button', { name: 'Cancel selected' }).click();
    expect(await cancel.textContent()).toContain('Cancel all 30 tasks matching the filter?');
    await cancel.getByRole('button', { name: 'Cancel 30 tasks' }).click();
    await page.getByRole('status').filter({ hasText: 'Cancelled 28 tasks.' }).waitFor(WAIT);
    await page.locator('tr[data-status="CANCELLED"]').nth(24).waitFor(WAIT);
    await screenshot(page, 'tasks-bulk');

    // Delete asks too; going back deletes nothing.
    await page.getByRole('checkbox', { name: 'Select all tasks on this page' }).check();
    await page.getByRole('button', { name: 'Select all 30 tasks matching the filter' }).click();
    await page.getByRole('button', { name: 'Delete selected' }).click();
    const del = page.getByRole('dialog', { name: 'Delete tasks?' });
    await del.getByRole('button', { name: 'Go back' }).click();
    await del.waitFor({ ...WAIT, state: 'hidden' });
    expect(await page.locator('tr[data-task-id]').count()).toBe(25);
    await page.getByRole('button', { name: 'Delete selected' }).click();
    await screenshot(page, 'tasks-bulk-confirm');
    await del.getByRole('button', { name: 'Delete 30 tasks' }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted 30 tasks.' }).waitFor(WAIT);
    await page.getByText('No tasks match.').waitFor(WAIT);
  });

  it("pauses an agent from its card: its tasks wait; its page shows the figures, sets a limit and resumes it", async () => {
    await page.goto(`${server.url}/#/agents?agent=e2e-hello`);
    const card = page.locator('li[data-agent="e2e-hello"]');
    await card.getByRole('button', { name: 'Pause agent e2e-hello' }).click();
    await card.locator('[data-paused="true"]').waitFor(WAIT);
    const ids = await submitFromForm(page, 'e2e-hello', 2);
    for (const id of ids) await row(page, id, 'QUEUED').waitFor(WAIT);
    await page.waitForTimeout(1_500); // claims and polls go by; a paused agent's tasks stay queued
    for (const id of ids) expect(await row(page, id, 'QUEUED').count()).toBe(1);

    // The agent's page, from its name on the card.
    await card.getByRole('link', { name: 'e2e-hello', exact: true }).click();
    await page.getByRole('heading', { name: 'Agent e2e-hello' }).waitFor(WAIT);
    await page.locator('[data-controls="paused"]').waitFor(WAIT);
    const count = async (status: string) => Number((await page.locator(`[data-count="${status}"] strong`).textContent())?.replace(/\D/g, ''));
    await page.locator('[data-count="QUEUED"] strong').filter({ hasText: /^2$/ }).waitFor(WAIT);
    expect(await count('SUCCEEDED')).toBeGreaterThanOrEqual(3);
    expect(await count('FAILED')).toBe(0);
    const figures = page.getByLabel('Agent figures');
    expect(await figures.locator('.card', { hasText: 'Success rate' }).locator('.value').textContent()).toBe('100%');
    expect(await figures.locator('.card', { hasText: 'Run time p50' }).locator('.value').textContent()).toMatch(/\d.* (ms|s)$/);
    expect(await figures.locator('.card', { hasText: 'Run time p99' }).locator('.value').textContent()).toMatch(/\d.* (ms|s)$/);
    for (const id of ids) await row(page, id, 'QUEUED').waitFor(WAIT); // the recent tasks

    // The concurrency limit: set, then shown on the agents list.
    await page.locator('input[name="concurrencyLimit"]').fill('3');
    await page.getByRole('button', { name: 'Set limit' }).click();
    await page.getByRole('status').filter({ hasText: 'Limit set to 3.' }).waitFor(WAIT);
    await screenshot(page, 'agent');

    // Resume: the waiting tasks run, live on the page, and the counts follow.
    await page.getByRole('button', { name: 'Resume agent e2e-hello' }).click();
    await page.locator('[data-controls="running"]').waitFor(WAIT);
    for (const id of ids) await row(page, id, 'SUCCEEDED').waitFor(WAIT);
    await page.locator('[data-count="QUEUED"] strong').filter({ hasText: /^0$/ }).waitFor(WAIT);

    await page.goto(`${server.url}/#/agents`);
    await card.getByText('≤ 3 at once').waitFor(WAIT);
    expect(await card.locator('[data-paused]').count()).toBe(0);
    // Back to no limit, from the agent's page: a blank field.
    await page.goto(`${server.url}/#/agents/e2e-hello`);
    await page.locator('input[name="concurrencyLimit"]').fill('');
    await page.getByRole('button', { name: 'Set limit' }).click();
    await page.getByRole('status').filter({ hasText: 'No limit.' }).waitFor(WAIT);
  });

  it('deletes an agent after confirming', async () => {
    await page.goto(`${server.url}/#/agents`);
    await page.getByRole('button', { name: 'Delete agent e2e-bulk' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete agent?' });
    await dialog.getByRole('button', { name: 'Delete e2e-bulk' }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted agent e2e-bulk.' }).waitFor(WAIT);
    await page.locator('li[data-agent="e2e-bulk"]').waitFor({ ...WAIT, state: 'detached' });
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
    for (const [name, hash] of [['overview', ''], ['tasks', 'tasks'], ['agents', 'agents'], ['agent', 'agents/e2e-hello'], ['task', taskHref]] as const) {
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
