// Real Chromium for the e2e suite (Debian's package, or CHROMIUM_PATH), driven by playwright-core.
// test/e2e/global-setup.ts finds it before any e2e file starts; a missing browser fails the run, never skips.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { beforeEach, inject } from 'vitest';
import { DASHBOARD, isStale, runStep } from '../../scripts/build-changed.js';

const repo = resolve(import.meta.dirname, '../..');
export const screenshotDir = join(repo, 'test-results', 'screenshots');

/** Builds web/dist when it is missing or older than its sources (the server serves web/dist); the same check as `npm start`. */
export function ensureDashboardBuilt(): void {
  if (isStale(DASHBOARD)) runStep(DASHBOARD);
}

export interface Browser {
  context: BrowserContext;
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'spindle-e2e-'));
  // playwright-core refuses --user-data-dir in args; the persistent context takes the profile dir.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: inject('chromiumPath'),
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  return {
    context,
    async newPage(viewport) {
      const page = await context.newPage();
      if (viewport) await page.setViewportSize(viewport);
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Full-page PNG kept as a test artifact in test-results/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** On a failed test, every open page is saved as test-results/screenshots/failed-<test>[-n].png. */
export function keepEvidenceOnFailure(browser: () => Browser | undefined): void {
  beforeEach(({ task, onTestFailed }) => {
    onTestFailed(async () => {
      const slug = task.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 60);
      const pages = (browser()?.context.pages() ?? []).filter((p) => p.url() !== 'about:blank');
      await Promise.all(pages.map((p, i) => screenshot(p, `failed-${slug}${i ? `-${i}` : ''}`).catch(() => undefined)));
    });
  });
}
