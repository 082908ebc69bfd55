import { useEffect, useRef, useState } from 'preact/hooks';
import { connection, gql } from '../api/client.js';
import { useCoalesced, useSubscription } from '../api/hooks.js';
import { useStore } from '../api/store.js';
import { textOf } from '../../../src/client/index.js';
import { ROW, STATUSES, TASK_EVENTS_SUB, applyEvent, type TaskEvent, type TaskRow } from '../api/queries.js';
import { href } from '../router.js';
import { ErrorNote, StatusBadge } from './Status.js';
import { TaskTable } from './TaskTable.js';

const SHOWN = 20;
const BUFFER = 5000;

/**
 * Rows for tasks this page submitted, kept live. The subscription is open before submitting and
 * events for ids not yet known are kept a while: a fast task may finish before its mutation answers.
 */
export function useLiveTasks() {
  const [rows, setRows] = useState<TaskRow[]>([]);
  const early = useRef(new Map<string, TaskEvent[]>());
  const pending = useRef<TaskEvent[]>([]);
  const fold = (r: TaskRow, events: TaskEvent[] | undefined) => (events ?? []).reduce(applyEvent, r);

  const flush = useCoalesced(() => {
    const byId = new Map<string, TaskEvent[]>();
    for (const e of pending.current) byId.set(e.taskId, [...(byId.get(e.taskId) ?? []), e]);
    pending.current = [];
    setRows((rs) => {
      const known = new Set(rs.map((r) => r.id));
      for (const [id, evs] of byId) {
        if (known.has(id)) continue;
        early.current.set(id, [...(early.current.get(id) ?? []), ...evs]);
        if (early.current.size > BUFFER) early.current.delete(early.current.keys().next().value!);
      }
      return rs.map((r) => fold(r, byId.get(r.id)));
    });
  }, 16);
  const error = useSubscription<{ taskEvents: TaskEvent }>(TASK_EVENTS_SUB, { filter: {} }, (d) => {
    pending.current.push(d.taskEvents);
    flush();
  });

  // After a reconnect, events may have been missed: read the rows again (aliased, 100 per request).
  const { epoch } = useStore(connection);
  useEffect(() => {
    const ids = rows.map((r) => r.id);
    for (let i = 0; i < ids.length; i += 100) {
      const chunk = ids.slice(i, i + 100);
      const doc = `query { ${chunk.map((id, j) => `t${j}: task(id: ${JSON.stringify(id)}) { ...Row }`).join(' ')} } ${textOf(ROW)}`;
      gql<Record<string, TaskRow | null>>(doc)
        .then((d) => {
          const fresh = new Map(Object.values(d).filter((t): t is TaskRow => !!t).map((t) => [t.id, t]));
          setRows((rs) => rs.map((r) => fresh.get(r.id) ?? r));
        })
        .catch(() => {});
    }
  }, [epoch]);

  const add = (tasks: TaskRow[]) => {
    const next = tasks.map((t) => fold(t, early.current.get(t.id)));
    setRows((rs) => [...next, ...rs].slice(0, 1000));
  };
  return { rows, add, error };
}

export function Submitted({ rows, error }: { rows: TaskRow[]; error?: { message: string } }) {
  if (!rows.length) return null;
  const counts = STATUSES.map((s) => [s, rows.filter((t) => t.status === s).length] as const).filter(([, n]) => n);
  return (
    <div class="panel" aria-labelledby="submitted-h" id="submitted">
      <h2 id="submitted-h">Just submitted</h2>
      <ErrorNote error={error} />
      <p class="summary" aria-live="polite">
        {counts.map(([s, n]) => (
          <span key={s} data-summary={s}>
            <StatusBadge status={s} /> {n}
          </span>
        ))}
      </p>
      <TaskTable rows={rows.slice(0, SHOWN)} caption="Tasks just submitted" />
      <p class="small">
        {rows.length > SHOWN ? `Showing ${SHOWN} of ${rows.length}. ` : ''}
        <a href={href('tasks')}>All tasks →</a>
      </p>
    </div>
  );
}
