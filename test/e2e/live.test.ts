// What keeps the dashboard honest while things move: streaming output, a dropped connection
// (re-query on reconnect), filters and pages, a dropped .wasm file, the API key.
import type { Page, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDashboardBuilt, keepEvidenceOnFailure, launchBrowser, screenshot, type Browser } from '../helpers/browser.js';
import { sha256Hex, watToWasm } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { WAIT, connected, row, submitFromForm, titleStatus, wat } from './pages.js';

// "tick" every ~250 ms until cancelled: stdout grows while the test watches, whatever the load.
const ENDLESS_TICKER = wat('ticker')
  .replace('(i64.const 40000000)', '(i64.const 250000000)')
  .replace('(br_if $tick (i32.lt_u (local.get $i) (i32.const 5)))', '(br $tick)');

// Counts the WebSockets the page opens and records every state the header shows, from the first script on.
const RECORD_CONNECTION = `(() => {
  window.__sockets = 0;
  window.WebSocket = class extends WebSocket { constructor(...args) { super(...args); window.__sockets++; } };
  window.__states = [];
  new MutationObserver(() => {
    const c = document.querySelector('.conn');
    const s = c && c.dataset.state + ' ' + c.textContent.trim();
    if (s && s !== window.__states.at(-1)) window.__states.push(s);
  }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
})()`;

const refused = (p: Page) => p.locator('.conn[data-state="offline"]').filter({ hasText: 'API key refused' });

let browser: Browser;
let server: TestServer;
let page: Page;

const REGISTER = 'mutation ($input: RegisterAgentInput!) { registerAgent(input: $input) { id } }';
const SUBMIT = 'mutation ($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { id } }';

async function submit(agent: string, n: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const data = await server.gqlOk<{ submitTasks: { id: string }[] }>(SUBMIT, { inputs: Array.from({ length: n }, () => ({ agent, ...extra })) });
  return data.submitTasks.map((t) => t.id);
}

async function settled(ids: string[]): Promise<void> {
  await waitFor('tasks to settle', async () => {
    const r = await server.gqlOk<{ tasks: { edges: { node: { id: string; status: string } }[] } }>(
      '{ tasks(first: 500) { edges { node { id status } } } }',
    );
    const done = new Set(r.tasks.edges.filter((e) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(e.node.status)).map((e) => e.node.id));
    return ids.every((id) => done.has(id));
  }, { timeoutMs: 30_000, everyMs: 100 });
}

keepEvidenceOnFailure(() => browser);

beforeAll(async () => {
  ensureDashboardBuilt();
  server = await startTestServer();
  const agents = [['hello', 'hello'], ['exit', 'exit_code'], ['echo', 'echo_stdin'], ['argv', 'print_args_env'],
    ['reader', 'file_reader'], ['writer', 'file_writer']].map(([name, file]) => [name, wat(file)]);
  for (const [name, source] of [...agents, ['ticker', ENDLESS_TICKER]]) {
    await server.gqlOk(REGISTER, { input: { name, wat: source } });
  }
  browser = await launchBrowser();
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

// One browser session through the dashboard: the steps share the page and the server's tasks, so
// they keep their order under CI's --sequence.shuffle.
describe('live dashboard', { shuffle: false }, () => {
  it('streams stdout while a task runs', async () => {
    const [id] = await submit('ticker', 1, { limits: { timeoutMs: 120_000 }, retryPolicy: { maxAttempts: 1 } });
    await page.goto(`${server.url}/#/tasks/${id}`);
    const ticks = `(document.querySelector('pre[data-stream="stdout"]')?.textContent.match(/tick/g) ?? []).length`;
    const running = `!!document.querySelector('.title-row [data-status="RUNNING"]')`;
    // Lines arrive while the task is RUNNING: they came through taskOutput, not the stored result.
    await page.waitForFunction(`${running} && ${ticks} >= 2`, undefined, WAIT);
    const seen = (await page.evaluate(ticks)) as number;
    await page.waitForFunction(`${running} && ${ticks} > ${seen}`, undefined, WAIT);
    expect(await page.locator('.live-tag').count()).toBeGreaterThan(0);
    await screenshot(page, 'task-streaming');
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.getByRole('dialog', { name: 'Cancel task?' }).getByRole('button', { name: 'Cancel task' }).click();
    await titleStatus(page, 'CANCELLED').waitFor(WAIT);
  });

  it('re-queries after a dropped connection, so what it shows is not stale', async () => {
    let blocked = false;
    const open = new Set<WebSocketRoute>();
    const watcher = await browser.newPage();
    await watcher.routeWebSocket(/\/graphql$/, (ws) => {
      if (blocked) return ws.close({ code: 1012, reason: 'e2e: server restarting' });
      ws.connectToServer();
      open.add(ws);
    });
    await watcher.goto(`${server.url}/#/tasks?agent=hello`);
    await connected(watcher);

    blocked = true;
    for (const ws of open) await ws.close({ code: 1012, reason: 'e2e: connection dropped' });
    await watcher.locator('.conn[data-state="reconnecting"]').waitFor(WAIT);
    // What is on screen is marked as stale, with the time it was last live.
    const banner = watcher.getByRole('alert').filter({ hasText: /^Connection lost at .+: what you see is as of then and is not updating\. Reconnecting…$/ });
    await banner.waitFor(WAIT);
    expect(await watcher.locator('main[data-stale]').count()).toBe(1);
    const ids = await submit('hello', 3); // their events go nowhere: the page is disconnected
    await settled(ids);
    expect(await row(watcher, ids[0]).count()).toBe(0);

    blocked = false;
    await connected(watcher);
    await banner.waitFor({ ...WAIT, state: 'hidden' });
    expect(await watcher.locator('main[data-stale]').count()).toBe(0);
    for (const id of ids) await row(watcher, id, 'SUCCEEDED').waitFor(WAIT);
    await watcher.close();
  });

  it('filters by status and agent, and pages through tasks', async () => {
    const ok = await submit('hello', 27);
    const bad = await submit('exit', 3, { args: ['3'] });
    await settled([...ok, ...bad]);
    await page.goto(`${server.url}/#/tasks`);
    await connected(page);
    await page.locator('tbody tr').nth(24).waitFor(WAIT);
    expect(await page.locator('tbody tr').count()).toBe(25);
    const total = Number((await page.locator('.pager').textContent())?.match(/([\d,]+) tasks/)?.[1].replace(/,/g, ''));
    await page.getByRole('button', { name: 'Older →' }).click();
    await page.getByText('Page 2').waitFor(WAIT);
    await page.waitForFunction(`document.querySelectorAll('tbody tr').length === ${total - 25}`, undefined, WAIT);
    await page.getByRole('button', { name: '← Newer' }).click();
    await page.getByText('Page 1').waitFor(WAIT);

    await page.locator('select[name="status"]').selectOption('FAILED');
    await page.waitForFunction(`document.querySelectorAll('tbody tr').length === 3`, undefined, WAIT);
    expect(await page.locator('tbody tr[data-status="FAILED"]').count()).toBe(3);
    expect(await page.locator('tbody tr').first().textContent()).toContain('exit 3');
    await page.locator('select[name="status"]').selectOption('');
    await page.locator('select[name="agent"]').selectOption('exit');
    await page.waitForFunction(`document.querySelectorAll('tbody tr').length === 3`, undefined, WAIT);
    expect(page.url()).toContain('agent=exit');
  });

  it('submits stdin, args, env and input files from the form; shows the files a task wrote', async () => {
    const run = async (agent: string, fill: (p: Page) => Promise<void>) => {
      await page.goto(`${server.url}/#/agents?agent=${agent}`);
      await connected(page);
      const [id] = await submitFromForm(page, agent, 1, fill);
      await row(page, id).locator('a').click();
      await titleStatus(page, 'SUCCEEDED').waitFor(WAIT);
      return page.locator('pre[data-stream="stdout"]');
    };
    const argv = await run('argv', async (p) => {
      await p.locator('textarea[name="args"]').fill('alpha\nbeta gamma');
      await p.locator('textarea[name="env"]').fill('GREETING=hi there');
    });
    expect(await argv.textContent()).toMatch(/alpha\nbeta gamma\n--\n.*GREETING=hi there/s);
    const echo = await run('echo', (p) => p.locator('textarea[name="stdin"]').fill('piped through stdin'));
    expect(await echo.textContent()).toBe('piped through stdin');
    const reader = await run('reader', (p) =>
      p.locator('input[name="files"]').setInputFiles({ name: 'input.txt', mimeType: 'text/plain', buffer: Buffer.from('from an input file\n') }),
    );
    expect(await reader.textContent()).toBe('from an input file\n');
    await run('writer', async () => {});
    const file = page.locator('.files li').filter({ hasText: 'output.txt' });
    await file.waitFor(WAIT);
    expect(await file.locator('pre').textContent()).toBe('written by the guest\n');
    await screenshot(page, 'task-files');
  });

  it('registers an agent from a dropped .wasm file (POST /modules)', async () => {
    const bytes = await watToWasm(wat('hello'));
    await page.goto(`${server.url}/#/agents`);
    await connected(page);
    // A real drop: a DataTransfer holding a File, dispatched on the drop zone.
    const transfer = await page.evaluateHandle(
      `(() => { const t = new DataTransfer(); t.items.add(new File([Uint8Array.from(atob('${Buffer.from(bytes).toString('base64')}'), (c) => c.charCodeAt(0))], 'greeter.wasm', { type: 'application/wasm' })); return t; })()`,
    );
    await page.dispatchEvent('.drop', 'drop', { dataTransfer: transfer });
    expect(await page.locator('input[name="agent-name"]').inputValue()).toBe('greeter');
    const upload = page.waitForRequest((r) => r.url().endsWith('/modules') && r.method() === 'POST');
    await page.getByRole('button', { name: 'Register agent' }).click();
    expect((await upload).headers()['content-type']).toBe('application/wasm');
    await page.locator('li[data-agent="greeter"]').waitFor(WAIT);
    await page.locator('li[data-agent="greeter"] summary').click();
    expect(await page.locator('li[data-agent="greeter"] [title]').first().getAttribute('title')).toBe(sha256Hex(bytes));
  });

  it('keeps the API key in localStorage and sends it on HTTP and WebSocket', async () => {
    const inits: string[] = [];
    const p = await browser.newPage();
    await p.routeWebSocket(/\/graphql$/, (ws) => {
      const upstream = ws.connectToServer();
      ws.onMessage((m) => {
        if (String(m).includes('connection_init')) inits.push(String(m));
        upstream.send(m);
      });
    });
    await p.goto(server.url);
    await connected(p);
    await p.getByRole('button', { name: 'API key' }).click();
    await p.getByLabel('API key').fill('e2e-secret');
    await p.getByRole('button', { name: 'Save' }).click();
    await connected(p);
    const request = p.waitForRequest((r) => r.url().endsWith('/graphql') && r.method() === 'POST');
    await p.reload();
    expect((await request).headers()['authorization']).toBe('Bearer e2e-secret');
    await connected(p);
    expect(inits.at(-1)).toContain('Bearer e2e-secret');
    expect(await p.evaluate(`localStorage.getItem('spindle.apiKey')`)).toBe('e2e-secret');
    await p.close();
  });

  it('keeps saying the key is refused until the user gives a valid one', async () => {
    // A server that wants keys: a wrong one is refused for real, on HTTP (401) and WebSocket (4403).
    const guarded = await startTestServer({ AUTH: 'on' });
    const p = await browser.newPage();
    try {
      await p.addInitScript(RECORD_CONNECTION);
      await p.goto(guarded.url);
      await p.evaluate(`localStorage.setItem('spindle.apiKey', 'spd_not-a-key')`);
      await p.reload();
      await refused(p).waitFor(WAIT);
      await p.evaluate('window.__notReloaded = true; window.__states = []');
      const opened = await p.evaluate<number>('window.__sockets');

      // Nothing but the user may end it: not time, not the subscriptions of other pages.
      await p.waitForTimeout(3_000);
      const nav = p.getByRole('navigation', { name: 'Pages' });
      for (const go of [() => nav.getByRole('link', { name: 'Tasks' }).click(), () => nav.getByRole('link', { name: 'Agents' }).click(),
        () => p.evaluate(`location.hash = '#/tasks/no-such-task'`), () => nav.getByRole('link', { name: 'Overview' }).click()]) {
        await go();
        await p.locator('main .error').first().waitFor(WAIT); // the page says it cannot load, and why
        await p.waitForTimeout(500);
        expect(await refused(p).count()).toBe(1);
      }
      expect(await p.evaluate('window.__notReloaded')).toBe(true);
      expect(await p.evaluate<number>('window.__sockets')).toBe(opened);
      const states = await p.evaluate<string[]>('window.__states');
      expect(states.filter((s) => !s.startsWith('offline API key refused'))).toEqual([]);

      // Reconnect asks once with the same key, and is refused again.
      await p.evaluate('window.__states = []');
      await p.getByRole('button', { name: 'Reconnect' }).click();
      await p.waitForFunction(
        `window.__states.some((s) => s.startsWith('connecting')) && window.__states.at(-1).startsWith('offline API key refused')`,
        undefined,
        WAIT,
      );
      expect(await p.evaluate<number>('window.__sockets')).toBe(opened + 1);

      await p.locator('.key-toggle').click();
      await p.getByLabel('API key').fill(guarded.adminKey!);
      await p.getByRole('button', { name: 'Save' }).click();
      await connected(p);
      await p.locator('[data-count="SUCCEEDED"]').waitFor(WAIT);
      expect(await p.locator('main .error').count()).toBe(0);
    } finally {
      await p.close();
      await guarded.close();
    }
  });
});
