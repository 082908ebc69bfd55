// Page actions shared by the e2e files: what a user does on the dashboard, by control names.
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';

// Generous: CI machines are small and the suites share them; a pass is usually well under a second.
export const WAIT = { timeout: 30_000 };
export const PHONE = { width: 390, height: 844 };

export const wat = (name: string) => readFileSync(new URL(`../fixtures/wat/${name}.wat`, import.meta.url), 'utf8');

export async function connected(p: Page): Promise<void> {
  await p.locator('.conn[data-state="connected"]').waitFor(WAIT);
}

export async function registerByWat(p: Page, base: string, name: string, source: string): Promise<void> {
  await p.goto(`${base}/#/agents`);
  await p.locator('input[name="agent-name"]').fill(name);
  await p.locator('textarea[name="wat"]').fill(source);
  await p.getByRole('button', { name: 'Register agent' }).click();
  await p.locator(`li[data-agent="${name}"]`).waitFor(WAIT);
}

/** Fills the submit form on the Agents page and answers the ids of the tasks it created. */
export async function submitFromForm(p: Page, agent: string, copies: number, extra?: (p: Page) => Promise<void>): Promise<string[]> {
  await p.locator('select[name="submit-agent"]').selectOption(agent);
  await p.locator('input[name="copies"]').fill(String(copies));
  await extra?.(p);
  const answer = p.waitForResponse((r) => r.url().endsWith('/graphql') && (r.request().postData() ?? '').includes('submitTasks'));
  await p.getByRole('button', { name: 'Submit', exact: true }).click();
  const body = (await (await answer).json()) as { data: { submitTasks: { id: string }[] } };
  return body.data.submitTasks.map((t) => t.id);
}

export const row = (p: Page, id: string, status?: string) =>
  p.locator(`tr[data-task-id="${id}"]${status ? `[data-status="${status}"]` : ''}`);

export const titleStatus = (p: Page, status: string) => p.locator(`.title-row [data-status="${status}"]`);
