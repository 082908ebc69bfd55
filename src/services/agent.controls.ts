/**
 * The user's controls of an agent and its figures: pause and resume (a paused agent's tasks are
 * not claimed; submits still queue them), the concurrency limit (at most this many of its tasks
 * held at once, claimed or RUNNING, cluster-wide), and stats over a recent window. The claim
 * enforces the controls (store/agent-claim.ts); here they are checked and set.
 */
import { badInput, type Principal } from '../domain/index.js';
import type { AgentRow, AgentStatsRow, Store } from '../store/index.js';
import { requireRole } from './auth.service.js';
import { notFoundAt } from './ids.js';

/** The concurrency limit's range; null (no limit) aside. */
export const CONCURRENCY_LIMIT_MIN = 1;
export const CONCURRENCY_LIMIT_MAX = 10_000;
/** Agent.stats(windowSeconds): from a minute to a week. */
export const STATS_WINDOW_MIN_S = 60;
export const STATS_WINDOW_MAX_S = 7 * 24 * 3600;
/** At most this many of the window's tasks are read (the newest); more and the stats say `truncated`. */
export const STATS_MAX_TASKS = 10_000;

/** A concurrency limit as given (null = none), or BAD_USER_INPUT naming `field` and the range. */
export function checkConcurrencyLimit(field: string, limit: number | null | undefined): number | null {
  if (limit == null) return null;
  if (!Number.isInteger(limit) || limit < CONCURRENCY_LIMIT_MIN || limit > CONCURRENCY_LIMIT_MAX) {
    throw badInput(field, `must be an integer from ${CONCURRENCY_LIMIT_MIN} to ${CONCURRENCY_LIMIT_MAX}, or null for no limit (got ${limit})`, {
      min: CONCURRENCY_LIMIT_MIN,
      max: CONCURRENCY_LIMIT_MAX,
    });
  }
  return limit;
}

export interface AgentStats extends AgentStatsRow {
  windowSeconds: number;
  /** SUCCEEDED / (SUCCEEDED + FAILED) of the window's tasks; null when none ended so. */
  successRate: number | null;
}

export interface AgentControls {
  /** Pauses the agent (by id or name): its tasks stay queued until resumed. */
  pause(caller: Principal, idOrName: string): Promise<AgentRow>;
  /** Resumes the agent: its queued tasks become claimable again, at once on every node. */
  resume(caller: Principal, idOrName: string): Promise<AgentRow>;
  /** Sets (1..10000) or clears (null) the agent's concurrency limit. */
  setConcurrencyLimit(caller: Principal, idOrName: string, limit: number | null): Promise<AgentRow>;
  /** The agent's figures over the tasks created in the last `windowSeconds`. */
  stats(caller: Principal, agent: AgentRow, windowSeconds: number): Promise<AgentStats>;
}

export interface AgentControlsDeps {
  store: Store;
  /** Finds one of the caller's agents by id or name, NOT_FOUND naming `field` otherwise. */
  require(caller: Principal, field: string, idOrName: string): Promise<AgentRow>;
}

export function makeAgentControls({ store, require }: AgentControlsDeps): AgentControls {
  async function set(caller: Principal, action: string, idOrName: string, controls: Parameters<Store['agents']['setControls']>[2]) {
    requireRole(caller, 'submitter', action);
    const agent = await require(caller, 'id', idOrName);
    const row = await store.agents.setControls(caller.tenantId, agent.id, controls);
    if (!row) throw notFoundAt('id', 'agent', idOrName);
    return row;
  }
  /** Tasks may have become claimable: wake every node's claim loop (NOTIFY), not only the next poll. */
  const wakeClaims = () => store.notifyQueued().catch(() => {});

  return {
    pause: (caller, idOrName) => set(caller, 'pauseAgent', idOrName, { paused: true }),

    async resume(caller, idOrName) {
      const row = await set(caller, 'resumeAgent', idOrName, { paused: false });
      await wakeClaims();
      return row;
    },

    async setConcurrencyLimit(caller, idOrName, limit) {
      const concurrencyLimit = checkConcurrencyLimit('limit', limit);
      const row = await set(caller, 'setAgentConcurrency', idOrName, { concurrencyLimit });
      await wakeClaims();
      return row;
    },

    async stats(caller, agent, windowSeconds) {
      if (!Number.isInteger(windowSeconds) || windowSeconds < STATS_WINDOW_MIN_S || windowSeconds > STATS_WINDOW_MAX_S) {
        throw badInput('windowSeconds', `must be an integer from ${STATS_WINDOW_MIN_S} to ${STATS_WINDOW_MAX_S} (a week) (got ${windowSeconds})`);
      }
      const row = await store.agents.stats(caller.tenantId, agent.id, windowSeconds * 1000, STATS_MAX_TASKS);
      const ended = row.byStatus.SUCCEEDED + row.byStatus.FAILED;
      return { ...row, windowSeconds, successRate: ended === 0 ? null : row.byStatus.SUCCEEDED / ended };
    },
  };
}
