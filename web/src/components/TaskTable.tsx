import type { ComponentChildren } from 'preact';
import type { SortField, TaskOrder, TaskRow } from '../api/queries.js';
import { fmtMs, fmtTime, shortId } from '../format.js';
import { href } from '../router.js';
import { StatusBadge } from './Status.js';

export function resultText(t: Pick<TaskRow, 'outcome' | 'exitCode'>): string {
  // No outcome while QUEUED or RUNNING (a CANCELLED task has `cancelled`, even with no attempt).
  if (!t.outcome) return '—';
  if (t.outcome === 'exited') return `exit ${t.exitCode ?? '?'}`;
  return t.outcome.replace(/_/g, ' ');
}

const failed = (t: TaskRow) => !!t.outcome && t.outcome !== 'cancelled' && !(t.outcome === 'exited' && t.exitCode === 0);

/** Rows picked for a bulk action: a checkbox per row and one for the whole page. */
export interface RowSelection {
  selected: ReadonlySet<string>;
  set(ids: string[], on: boolean): void;
}

/** Sortable columns: the order shown, and what a header click asks for. */
export interface TableSort {
  order: TaskOrder;
  onSort(field: SortField): void;
}

/** A column header; with `sort`, a button that sorts by `field` (again: the other direction). */
function Header({ field, sort, class: cls, children }: { field: SortField; sort?: TableSort; class?: string; children: ComponentChildren }) {
  if (!sort) return <th scope="col" class={cls}>{children}</th>;
  const on = sort.order.field === field;
  const dir = sort.order.direction === 'ASC' ? 'ascending' : 'descending';
  return (
    <th scope="col" class={cls} aria-sort={on ? dir : 'none'} data-sort={field}>
      <button type="button" class="sort" onClick={() => sort.onSort(field)}>
        {children}
        <span aria-hidden="true" class="sort-mark">{on ? (sort.order.direction === 'ASC' ? ' ▲' : ' ▼') : ''}</span>
      </button>
    </th>
  );
}

export function TaskTable({ rows, caption, selection, sort }: { rows: TaskRow[]; caption: string; selection?: RowSelection; sort?: TableSort }) {
  const all = selection && rows.length > 0 && rows.every((t) => selection.selected.has(t.id));
  return (
    <div class="table-wrap">
      <table class="tasks">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            {selection ? (
              <th scope="col" class="pick">
                <input type="checkbox" aria-label="Select all tasks on this page" checked={all}
                  onChange={(e) => selection.set(rows.map((t) => t.id), e.currentTarget.checked)} />
              </th>
            ) : null}
            <th scope="col">Task</th>
            <th scope="col">Agent</th>
            <th scope="col">Status</th>
            <th scope="col" class="num wide">Attempts</th>
            <th scope="col">Result</th>
            <Header field="PRIORITY" sort={sort} class="num wide">Priority</Header>
            <Header field="CREATED_AT" sort={sort} class="wide">Created</Header>
            <Header field="FINISHED_AT" sort={sort} class="wide">Finished</Header>
            <Header field="DURATION" sort={sort} class="num wide">Duration</Header>
          </tr>
        </thead>
        <tbody>
          {rows.map((t) => (
            <tr key={t.id} data-task-id={t.id} data-status={t.status}>
              {selection ? (
                <td class="pick">
                  <input type="checkbox" aria-label={`Select task ${shortId(t.id)}`} checked={selection.selected.has(t.id)}
                    onChange={(e) => selection.set([t.id], e.currentTarget.checked)} />
                </td>
              ) : null}
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
              <td class="num wide">{t.priority}</td>
              <td class="wide">{fmtTime(t.createdAt)}</td>
              <td class="wide">{fmtTime(t.finishedAt)}</td>
              <td class="num wide">{fmtMs(t.durationMs)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
