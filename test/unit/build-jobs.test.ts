// Background builds (src/services/build.jobs.ts): a build whose node stopped reads as FAILED.
import { describe, expect, it } from 'vitest';
import { BUILD_STALE_MS, presentBuild } from '../../src/services/build.jobs.js';
import type { AgentBuildRow } from '../../src/store/index.js';

const row = (status: AgentBuildRow['status'], heartbeatAgoMs: number, now: number): AgentBuildRow => ({
  id: 'b', tenantId: 't', agentName: 'a', language: 'assemblyscript', status, log: '', diagnostics: [], error: null, cached: false,
  agentId: null, agentVersion: null, node: 'node-1', createdAt: new Date(now - 1e6), startedAt: null, finishedAt: null, heartbeatAt: new Date(now - heartbeatAgoMs),
});

describe('presentBuild', () => {
  const now = Date.UTC(2026, 11, 6);
  it('keeps a build whose node heartbeats, at BUILD_STALE_MS and before', () => {
    for (const status of ['QUEUED', 'RUNNING'] as const) expect(presentBuild(row(status, BUILD_STALE_MS, now), now).status).toBe(status);
  });
  it('reads one past BUILD_STALE_MS as FAILED, naming its node', () => {
    for (const status of ['QUEUED', 'RUNNING'] as const) {
      expect(presentBuild(row(status, BUILD_STALE_MS + 1, now), now)).toMatchObject({ status: 'FAILED', error: 'the node building it (node-1) stopped before the build ended; build again' });
    }
  });
  it('leaves ended builds as they are, however old', () => {
    for (const status of ['SUCCEEDED', 'FAILED'] as const) expect(presentBuild(row(status, 10 * BUILD_STALE_MS, now), now)).toEqual(row(status, 10 * BUILD_STALE_MS, now));
  });
});
