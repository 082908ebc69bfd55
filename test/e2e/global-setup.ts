// Runs once before the e2e files (vitest `globalSetup` of the e2e project only, so a unit run never
// pays for it): finds Chromium, or installs Debian's, and hands its path to the tests. A missing
// browser fails the run here, in seconds, instead of after the other suites — never a skip.
import type { TestProject } from 'vitest/node';
import { installDebianChromium, resolveChromium, thisMachine } from '../helpers/chromium.js';

declare module 'vitest' {
  export interface ProvidedContext {
    chromiumPath: string;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const say = (line: string) => console.log(`e2e: ${line}`);
  const chromium = await resolveChromium(thisMachine(process.env.CHROMIUM_PATH), installDebianChromium, say).catch((err: Error) => {
    // The message is the instruction (what to install or set); a stack into vitest's internals would bury it.
    err.message = `e2e: ${err.message}`;
    err.stack = `Error: ${err.message}`;
    throw err;
  });
  say(`${chromium.version} (${chromium.path})`); // CI logs show which browser ran
  project.provide('chromiumPath', chromium.path);
}
