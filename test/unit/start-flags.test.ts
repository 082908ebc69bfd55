import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startFlags } from '../../scripts/start-flags.js';

describe('the Node flags of a node', () => {
  it('are those of npm start, and the Docker image runs with the same', () => {
    const flags = startFlags();
    expect(flags).toContain('--v8-pool-size=1');
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const options = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(dockerfile)?.[1];
    expect(options?.split(/\s+/)).toEqual(flags);
  });
});
