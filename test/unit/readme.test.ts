import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readmeWithConfigTable } from '../../scripts/readme-config.js';

describe('README', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

  it('documents every configuration variable exactly as src/config defines it', () => {
    // Stale? Run: npx tsx scripts/readme-config.ts
    expect(readme).toBe(readmeWithConfigTable(readme));
  });

  it('keeps the two-command quick start', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
  });
});
