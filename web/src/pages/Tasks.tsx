import { useEffect, useMemo, useState } from 'preact/hooks';
import { ACTIVE, DEFAULT_ORDER, STATUSES, type SortField, type TaskOrder, type TaskStatus } from '../api/queries.js';
import { useTaskList } from '../api/task-list.js';
import { BulkBar } from '../components/BulkBar.js';
import { SearchBox, TimeRange, useCreatedRange } from '../components/TaskFilters.js';
import { ErrorNote } from '../components/Status.js';
import { TaskTable } from '../components/TaskTable.js';
import { navigate } from '../router.js';
import { fmtCount } from '../format.js';

function statusFilter(v: string | null): TaskStatus[] | undefined {
  if (v === 'active') return ACTIVE;
  return v && STATUSES.includes(v as TaskStatus) ? [v as TaskStatus] : undefined;
}

const SORT_FIELDS: SortField[] = ['CREATED_AT', 'FINISHED_AT', 'DURATION', 'PRIORITY'];

/** `sort=FIELD.asc|desc` in the URL; absent or unknown: newest first. */
function parseSort(v: string | null): TaskOrder | undefined {
  const [field, dir] = (v ?? '').split('.');
  if (!SORT_FIELDS.includes(field as SortField)) return undefined;
  const order: TaskOrder = { field: field as SortField, direction: dir === 'asc' ? 'ASC' : 'DESC' };
  return order.field === DEFAULT_ORDER.field && order.direction === DEFAULT_ORDER.direction ? undefined : order;
}

export function TasksPage({ query }: { query: URLSearchParams }) {
  const params = {
    status: query.get('status') ?? '',
    agent: query.get('agent') ?? '',
    q: query.get('q') ?? '',
    sort: query.get('sort') ?? '',
    range: query.get('range') ?? '',
    from: query.get('from') ?? '',
    to: query.get('to') ?? '',
  };
  const { status, agent, q, range, from, to } = params;
  const orderBy = parseSort(params.sort);
  // When a preset range was picked: "last hour" counts back from then, not from each render.
  const since = useMemo(() => Date.now(), [range]);
  const created = useCreatedRange(range, from, to, since);
  const [size, setSize] = useState(25);
  const [cursors, setCursors] = useState<(string | null)[]>([null]); // one per page visited
  const after = cursors[cursors.length - 1];
  const view = JSON.stringify([status, agent, q, params.sort, range, from, to]);
  useEffect(() => setCursors([null]), [view, size]);
  const filter = { status: statusFilter(status), agent: agent || undefined, search: q || undefined, ...created };
  const list = useTaskList({ ...filter, first: size, after, orderBy });
  // Picked rows stay picked across pages; a new filter starts afresh.
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [allMatching, setAllMatching] = useState(false);
  const clear = () => (setSelected(new Set()), setAllMatching(false));
  useEffect(clear, [view]);
  const selection = {
    selected: allMatching ? new Set(list.rows.map((t) => t.id)) : selected,
    set(ids: string[], on: boolean) {
      const next = new Set(allMatching ? list.rows.map((t) => t.id) : selected);
      for (const id of ids) on ? next.add(id) : next.delete(id);
      setAllMatching(false);
      setSelected(next);
    },
  };

  const set = (k: string, v: string) => navigate('tasks', { ...params, [k]: v });
  const current = orderBy ?? DEFAULT_ORDER;
  // A header sorts by its column, newest/largest first; again, the other way round.
  const sortBy = (field: SortField) =>
    set('sort', `${field}.${current.field === field && current.direction === 'DESC' ? 'asc' : 'desc'}`);
  const caption = `Tasks, ${orderBy ? `by ${orderBy.field.toLowerCase().replace('_', ' ')} ${orderBy.direction === 'ASC' ? 'ascending' : 'descending'}` : 'newest first'}`;
  const page = cursors.length;
  const total = list.totalCount;
  return (
    <section aria-labelledby="tasks-h">
      <h1 id="tasks-h">Tasks</h1>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <SearchBox value={q} onSearch={(v) => set('q', v)} />
        <TimeRange range={range} from={from} to={to} onChange={set} />
        <label>
          Status
          <select name="status" value={status} onChange={(e) => set('status', e.currentTarget.value)}>
            <option value="">Any</option>
            <option value="active">Active (queued, running, retrying)</option>
            {STATUSES.map((s) => (
              <option value={s}>{s.toLowerCase()}</option>
            ))}
          </select>
        </label>
        <label>
          Agent
          <select name="agent" value={agent} onChange={(e) => set('agent', e.currentTarget.value)}>
            <option value="">Any</option>
            {list.agents.map((a) => (
              <option value={a.name}>{a.name}</option>
            ))}
          </select>
        </label>
        <label>
          Per page
          <select name="size" value={size} onChange={(e) => setSize(Number(e.currentTarget.value))}>
            {[25, 50, 100].map((n) => (
              <option value={n}>{n}</option>
            ))}
          </select>
        </label>
      </form>
      <ErrorNote error={list.error} />
      {list.missed > 0 ? (
        <p class="notice" role="status">
          {list.missed} newer event{list.missed === 1 ? '' : 's'} for tasks on earlier pages.{' '}
          <button type="button" class="link" onClick={() => setCursors([null])}>Show newest</button>
        </p>
      ) : null}
      {total !== undefined && list.rows.length === 0 ? (
        <p class="muted empty">
          No tasks match{q ? ` “${q}”` : ''}.{' '}
          {q || range ? <button type="button" class="link" onClick={() => navigate('tasks', { status, agent })}>Clear search and time range</button> : <>Submit some on the <a href="#/agents">Agents</a> page.</>}
        </p>
      ) : null}
      <BulkBar ids={[...selected]} allMatching={allMatching} filter={filter} total={total} totalExact={list.totalCountExact}
        pageSelected={list.rows.length > 0 && list.rows.every((t) => selection.selected.has(t.id))}
        onSelectAllMatching={() => setAllMatching(true)} onClear={clear} onDone={list.refetch} />
      {list.rows.length ? <TaskTable rows={list.rows} caption={caption} selection={selection} sort={{ order: current, onSort: sortBy }} /> : null}
      {total === undefined && list.loading ? <p class="muted">Loading…</p> : null}
      <nav class="pager" aria-label="Pagination">
        <button type="button" disabled={page === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
          ← {orderBy ? 'Previous' : 'Newer'}
        </button>
        <span class="muted" aria-live="polite">
          Page {page}
          {total !== undefined ? ` · ${fmtCount(total, list.totalCountExact)} task${total === 1 ? '' : 's'}` : ''}
        </span>
        <button
          type="button"
          disabled={!list.hasNextPage}
          onClick={() => list.endCursor && setCursors((c) => [...c, list.endCursor])}
        >
          {orderBy ? 'Next' : 'Older'} →
        </button>
      </nav>
    </section>
  );
}
