// Task events laid over queried rows at render time. Query answers may be older than the events
// that arrived while they were in flight; the overlay keeps the newer state on screen.
import { useCallback, useReducer, useRef } from 'preact/hooks';
import { applyEvent, type TaskEvent, type TaskRow } from './queries.js';

const KEEP = 5000;

export function useEventOverlay() {
  const last = useRef(new Map<string, TaskEvent>());
  const [version, bump] = useReducer((x: number) => x + 1, 0);
  const push = useCallback((events: TaskEvent[]) => {
    const map = last.current;
    for (const e of events) {
      const prev = map.get(e.taskId);
      if (prev && Date.parse(prev.at) > Date.parse(e.at)) continue;
      map.delete(e.taskId); // re-insert: the Map's order is the eviction order
      map.set(e.taskId, e);
      if (map.size > KEEP) map.delete(map.keys().next().value!);
    }
    bump(0);
  }, []);
  const overlay = useCallback(<T extends TaskRow>(row: T): T => {
    const e = last.current.get(row.id);
    return e ? applyEvent(row, e) : row;
  }, [version]);
  return { push, overlay };
}

/** A row for a task known only from its first event, shown until a re-query fills it in. */
export function placeholderRow(e: TaskEvent, agentName: string | undefined): TaskRow {
  return {
    id: e.taskId, status: e.status, priority: 0, attempts: e.attempt,
    agent: { id: e.agentId, name: agentName ?? '…' }, agentVersion: { version: 0 },
    outcome: e.outcome, exitCode: e.exitCode,
    createdAt: e.at, updatedAt: e.at, startedAt: null, finishedAt: null, durationMs: null,
  };
}
