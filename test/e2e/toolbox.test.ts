// The task list as a user's toolbox, in real Chromium against a real server: search, sortable
// columns, a created-time range, and input file previews on the task page. Screenshots go to
// test-results/screenshots/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { DEMO_AGENT_WAT } from '../../src/server/demo-agent.js';
import { ensureDashboardBuilt, keepEvidenceOnFailure, launchBrowser, screenshot, type Browser } from '../helpers/browser.js';
import { startTestServer, toBase64, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { WAIT, connected, row } from './pages.js';

let browser: Browser;
let server: TestServer;
let page: Page;
const ids: Record<string, string> = {};
let startedAt: Date;

keepEvidenceOnFailure(() => browser);

const SUBMIT = `mutation ($input: SubmitTaskInput!) { submitTask(input: $input) { id } }`;
const submit = async (name: string, input: Record<string, unknown>) =>
  (ids[name] = (await server.gqlOk(SUBMIT, { input: { agent: 'e2e-tools', ...input } })).submitTask.id);

/** The task ids of the table's rows, top to bottom. */
const shown = (p: Page) => p.locator('tbody tr[data-task-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-task-id')!));
/** Waits until the table shows exactly `expected`, in that order. */
async function expectShown(p: Page, expected: string[]) {
  await waitFor(`rows ${expected.join(', ')}`, async () => JSON.stringify(await shown(p)) === JSON.stringify(expected), { timeoutMs: WAIT.timeout }).catch(async (err) => {
    expect(await shown(p)).toEqual(expected); // says what was there instead
    throw err;
  });
}
/** Local "YYYY-MM-DDTHH:mm" for a datetime-local input. */
const local = (d: Date) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

beforeAll(async () => {
  ensureDashboardBuilt();
  startedAt = new Date();
  server = await startTestServer();
  await server.gqlOk(`mutation ($wat: String!) { registerAgent(input: { name: "e2e-tools", wat: $wat }) { id } }`, { wat: DEMO_AGENT_WAT });
  await submit('needle', { args: ['needle-in-e2e'], priority: 3 });
  await submit('low', { stdin: 'plain input', priority: -1 });
  await submit('high', { args: ['other'], priority: 9 });
  await submit('later', { args: ['not yet'], runAt: new Date(Date.now() + 3_600_000).toISOString(), priority: 0 });
  await submit('files', {
    runAt: new Date(Date.now() + 3_600_000).toISOString(),
    priority: 0,
    files: [
      { path: '/in/notes.txt', text: 'first line\nsecond line' },
      { path: '/in/image.bin', base64: toBase64(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0xff])) },
    ],
  });
  await waitFor('three tasks ended', async () =>
    (await server.gqlOk(`{ tasks(filter: { status: [SUCCEEDED] }) { totalCount } }`)).tasks.totalCount === 3, { timeoutMs: 30_000, everyMs: 100 });
  browser = await launchBrowser();
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the task list as a toolbox', { shuffle: false }, () => {
  it('searches as the user types, keeps the search in the URL, and asks for 3 characters first', async () => {
    await page.goto(`${server.url}/#/tasks`);
    await connected(page);
    await row(page, ids.needle!).waitFor(WAIT);
    const box = page.getByRole('searchbox', { name: /Search/ });
    await box.fill('ne');
    await page.getByRole('alert').filter({ hasText: 'Type at least 3 characters' }).waitFor(WAIT);
    await box.fill('NEEDLE-in');
    await expectShown(page, [ids.needle!]);
    expect(page.url()).toContain('q=NEEDLE-in');
    // Output is searched too: every task that ran printed "hello from spindle".
    await box.fill('from spindle');
    await box.press('Enter');
    await waitFor('three rows', async () => (await shown(page)).length === 3, { timeoutMs: WAIT.timeout });
    expect(new Set(await shown(page))).toEqual(new Set([ids.needle, ids.low, ids.high]));
    await screenshot(page, 'tasks-search');
    await box.fill('no such text anywhere');
    await page.getByText('No tasks match “no such text anywhere”.').waitFor(WAIT);
    await page.getByRole('button', { name: 'Clear search and time range' }).click();
    await waitFor('all five', async () => (await shown(page)).length === 5, { timeoutMs: WAIT.timeout });
  });

  it('sorts by a column header, then the other way round; unfinished tasks come last', async () => {
    await page.goto(`${server.url}/#/tasks`);
    const priority = page.getByRole('columnheader', { name: /Priority/ });
    await priority.getByRole('button').click();
    await expectShown(page, [ids.high!, ids.needle!, ...[ids.later!, ids.files!].sort().reverse(), ids.low!]);
    expect(await priority.getAttribute('aria-sort')).toBe('descending');
    await priority.getByRole('button').click();
    await expectShown(page, [ids.low!, ...[ids.later!, ids.files!].sort(), ids.needle!, ids.high!]);
    expect(await priority.getAttribute('aria-sort')).toBe('ascending');
    expect(page.url()).toContain('sort=PRIORITY.asc');

    const finished = page.getByRole('columnheader', { name: /Finished/ });
    await finished.getByRole('button').click();
    // The sort goes through the URL and a re-render: the header says so once that is done.
    await waitFor('the Finished header to say descending', async () => (await finished.getAttribute('aria-sort')) === 'descending', { timeoutMs: WAIT.timeout });
    await waitFor('finished first', async () => (await shown(page)).length === 5 && (await shown(page))[0] !== ids.low, { timeoutMs: WAIT.timeout });
    const rows = await shown(page);
    expect(new Set(rows.slice(3))).toEqual(new Set([ids.later, ids.files]));
    expect(await priority.getAttribute('aria-sort')).toBe('none');
    await screenshot(page, 'tasks-sorted');
  });

  it('narrows to a created-time range: presets and custom from/to', async () => {
    await page.goto(`${server.url}/#/tasks`);
    const range = page.locator('select[name="range"]');
    await range.selectOption('1h');
    await waitFor('all five in the last hour', async () => (await shown(page)).length === 5, { timeoutMs: WAIT.timeout });
    await range.selectOption('custom');
    // Before the server started: nothing was created yet.
    const before = new Date(startedAt.getTime() - 120_000);
    await page.locator('input[name="to"]').fill(local(before));
    await page.getByText('No tasks match').waitFor(WAIT);
    expect(page.url()).toContain('range=custom');
    await page.locator('input[name="to"]').fill('');
    await page.locator('input[name="from"]').fill(local(before));
    await waitFor('all five since then', async () => (await shown(page)).length === 5, { timeoutMs: WAIT.timeout });
    await screenshot(page, 'tasks-range');
  });

  it("previews a task's input files: text shown, binary named as such", async () => {
    await page.goto(`${server.url}/#/tasks/${ids.files}`);
    const panel = page.locator('[data-panel="input-files"]');
    await panel.getByRole('heading', { name: 'Input files' }).waitFor(WAIT);
    const notes = panel.locator('[data-input-file="/in/notes.txt"]');
    await notes.getByLabel('Contents of /in/notes.txt').waitFor(WAIT);
    expect(await notes.locator('pre').textContent()).toBe('first line\nsecond line');
    const image = panel.locator('[data-input-file="/in/image.bin"]');
    expect(await image.locator('.warn-tag').textContent()).toBe('binary');
    await image.locator('summary').click();
    await image.getByText('Binary file: no text preview.').waitFor(WAIT);
    await screenshot(page, 'task-input-files');
  });
});
