/**
 * Builds asked for with buildAgent, running in the background on this node: each is a row in
 * agent_build (store/builds.ts) whose heartbeat this node renews while it runs, so a build
 * whose node stopped is read as FAILED (BUILD_STALE_MS) instead of running forever.
 */
import type { AgentBuildRow, Store } from '../store/index.js';

/** How often this node renews the heartbeat of the builds it runs. */
export const BUILD_HEARTBEAT_MS = 15_000;
/** A QUEUED or RUNNING build whose heartbeat is older than this is read as FAILED. */
export const BUILD_STALE_MS = 60_000;

export interface BuildJobs {
  /** Runs `work` for build `id` in the background, renewing its heartbeat meanwhile. */
  run(id: string, work: () => Promise<void>): void;
}

export function makeBuildJobs(store: Store, onError: (err: unknown) => void, heartbeatMs = BUILD_HEARTBEAT_MS): BuildJobs {
  const running = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  return {
    run(id, work) {
      running.add(id);
      if (timer === null) {
        timer = setInterval(() => void store.agentBuilds.heartbeat([...running]).catch(onError), heartbeatMs);
        timer.unref();
      }
      void work()
        .catch(onError)
        .finally(() => {
          running.delete(id);
          if (running.size === 0 && timer !== null) {
            clearInterval(timer);
            timer = null;
          }
        });
    },
  };
}

/** A build as the API shows it: one whose node stopped heartbeating is FAILED. */
export function presentBuild(row: AgentBuildRow, now = Date.now()): AgentBuildRow {
  if ((row.status === 'QUEUED' || row.status === 'RUNNING') && now - row.heartbeatAt.getTime() > BUILD_STALE_MS) {
    return { ...row, status: 'FAILED', error: `the node building it (${row.node}) stopped before the build ended; build again` };
  }
  return row;
}
