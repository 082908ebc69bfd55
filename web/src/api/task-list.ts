// A page of tasks kept live: the Relay query for the page, task events applied as they arrive,
// placeholders for brand-new tasks, and a coalesced re-query to fill in what events cannot say.
import { useEffect, useRef, useState } from 'preact/hooks';
import { useCoalesced, useQuery, useSubscription } from './hooks.js';
import { placeholderRow, useEventOverlay } from './live.js';
import { AGENTS_QUERY, TASK_EVENTS_SUB, TASKS_QUERY, type AgentInfo, type TaskEvent, type TaskOrder, type TaskRow, type TaskStatus } from './queries.js';
import type { ApiError } from './client.js';

type TasksData = {
  tasks: { totalCount: number; totalCountExact: boolean; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: TaskRow }[] };
};

export interface TaskListOptions {
  status?: TaskStatus[]; agent?: string; first: number; after: string | null;
  /** Text search (filter.search), at least 3 characters. */
  search?: string;
  /** Created in [createdAfter, createdBefore) (ISO times). */
  createdAfter?: string; createdBefore?: string;
  /** Undefined: newest first. */
  orderBy?: TaskOrder;
}
export interface TaskList {
  rows: TaskRow[];
  totalCount: number | undefined;
  /** False: totalCount is the server's estimate (more than COUNT_EXACT_MAX tasks match). */
  totalCountExact: boolean;
  endCursor: string | null;
  hasNextPage: boolean;
  loading: boolean;
  error: ApiError | undefined;
  /** Events for tasks that belong on earlier pages (only counted when `after` is set). */
  missed: number;
  agents: AgentInfo[];
  /** Asks for the page again (after a change events do not report, e.g. deletes). */
  refetch(): void;
}

export function useTaskList({ status, agent, first, after, search, createdAfter, createdBefore, orderBy }: TaskListOptions): TaskList {
  const q = useQuery<TasksData>(TASKS_QUERY, { filter: { status, agent, search, createdAfter, createdBefore }, first, after, orderBy });
  const agents = useQuery<{ agents: AgentInfo[] }>(AGENTS_QUERY);
  const refetch = useCoalesced(q.refetch, 50);
  const key = JSON.stringify([status, agent, first, after, search, createdAfter, createdBefore, orderBy]);
  // Newest first with no text or end bound: a new task belongs at the top, and events can place it.
  // Any other view: only the server knows where (or whether) a task it has not sent belongs.
  const placeable = !search && !createdBefore && !orderBy;
  const [missed, setMissed] = useState(0);
  const [fresh, setFresh] = useState<{ row: TaskRow; seenAt: number }[]>([]);
  useEffect(() => (setMissed(0), setFresh([])), [key]);
  useEffect(() => {
    // The answer includes every task created before it was asked for: drop those placeholders.
    const ids = new Set(q.data?.tasks.edges.map((e) => e.node.id));
    setFresh((f) => f.filter((p) => !ids.has(p.row.id) && p.seenAt > q.requestedAt));
  }, [q.data, q.requestedAt]);

  // Events land on screen at once (batched per frame) through the overlay.
  const { push, overlay } = useEventOverlay();
  const pending = useRef<TaskEvent[]>([]);
  const flush = useCoalesced(() => {
    const events = pending.current;
    pending.current = [];
    push(events);
    const onPage = new Set([...(q.data?.tasks.edges.map((e) => e.node.id) ?? []), ...fresh.map((p) => p.row.id)]);
    const names = new Map(agents.data?.agents.map((a) => [a.id, a.name]));
    const added: { row: TaskRow; seenAt: number }[] = [];
    let fill = false;
    let unknown = 0;
    for (const e of events) {
      const matches = !status || status.includes(e.status);
      if (onPage.has(e.taskId)) {
        // It leaves this filter, or may move in a sorted or searched view: let the query decide.
        if (!matches || !placeable) fill = true;
      } else if (matches && placeable && !after && e.status === 'QUEUED') {
        added.push({ row: placeholderRow(e, names.get(e.agentId)), seenAt: performance.now() });
        onPage.add(e.taskId);
        fill = true;
      } else if (matches) {
        if (after) unknown++;
        else fill = true;
      }
    }
    if (added.length) setFresh((f) => [...added.reverse(), ...f].slice(0, first));
    if (fill) refetch();
    if (unknown) setMissed((m) => m + unknown);
  }, 16);
  const subError = useSubscription<{ taskEvents: TaskEvent }>(TASK_EVENTS_SUB, { filter: { agent } }, (d) => {
    pending.current.push(d.taskEvents);
    flush();
  });

  const t = q.data?.tasks;
  const queried = t?.edges.map((e) => e.node) ?? [];
  const known = new Set(queried.map((r) => r.id));
  const rows = [...fresh.map((p) => p.row).filter((r) => !known.has(r.id)), ...queried].slice(0, first).map(overlay);
  return {
    rows,
    totalCount: t?.totalCount,
    totalCountExact: t?.totalCountExact ?? true,
    endCursor: t?.pageInfo.endCursor ?? null,
    hasNextPage: t?.pageInfo.hasNextPage ?? false,
    loading: q.loading,
    error: q.error ?? subError,
    missed,
    agents: agents.data?.agents ?? [],
    refetch,
  };
}
