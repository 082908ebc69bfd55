import type { TaskRow } from '../api/queries.js';
import { fmtMs, fmtTime, shortId } from '../format.js';
import { href } from '../router.js';
import { StatusBadge } from './Status.js';

export function resultText(t: Pick<TaskRow, 'outcome' | 'exitCode'> & { status?: TaskRow['status'] }): string {
  // A task cancelled before it ran has no attempt, hence no outcome: say what happened anyway.
  if (!t.outcome) return t.status === 'CANCELLED' ? 'cancelled' : '—';
  if (t.outcome === 'exited') return `exit ${t.exitCode ?? '?'}`;
  return t.outcome.replace(/_/g, ' ');
}

const failed = (t: TaskRow) => !!t.outcome && t.outcome !== 'cancelled' && !(t.outcome === 'exited' && t.exitCode === 0);

export function TaskTable({ rows, caption }: { rows: TaskRow[]; caption: string }) {
  return (
    <div class="table-wrap">
      <table class="tasks">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Agent</th>
            <th scope="col">Status</th>
            <th scope="col" class="num wide">Attempts</th>
            <th scope="col">Result</th>
            <th scope="col" class="wide">Created</th>
            <th scope="col" class="num wide">Duration</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((t) => (
            <tr key={t.id} data-task-id={t.id} data-status={t.status}>
              <td>
                <a class="mono" href={href(`tasks/${encodeURIComponent(t.id)}`)} title={t.id}>
                  {shortId(t.id)}
                </a>
              </td>
              <td>
                {t.agent.name}
                {t.agentVersion.version ? <span class="muted version"> v{t.agentVersion.version}</span> : null}
              </td>
              <td>
                <StatusBadge status={t.status} />
              </td>
              <td class="num wide">{t.attempts}</td>
              <td class={failed(t) ? 'bad' : undefined}>{resultText(t)}</td>
              <td class="wide">{fmtTime(t.createdAt)}</td>
              <td class="num wide">{fmtMs(t.durationMs)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
