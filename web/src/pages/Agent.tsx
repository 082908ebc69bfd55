// One agent: its controls (pause/resume, concurrency limit), its figures over a recent window
// (success rate, run-time percentiles, counts by status, from Agent.stats) and its latest tasks,
// kept live: task events of the agent refresh the figures (at most once a second).
import { useState } from 'preact/hooks';
import type { ApiError } from '../api/client.js';
import { useCoalesced, useQuery, useSubscription } from '../api/hooks.js';
import { AGENT_QUERY, STATUSES, TASK_EVENTS_SUB, type AgentControlsState, type AgentDetail } from '../api/queries.js';
import { useTaskList } from '../api/task-list.js';
import { ConcurrencyForm, PausedTag, PauseButton } from '../components/AgentControls.js';
import { Card } from '../components/Card.js';
import { ErrorNote, StatusBadge } from '../components/Status.js';
import { TaskTable } from '../components/TaskTable.js';
import { fmtMs, fmtPercent } from '../format.js';
import { href } from '../router.js';

const WINDOWS = [
  [900, 'Last 15 min'],
  [3600, 'Last hour'],
  [86_400, 'Last 24 h'],
  [604_800, 'Last 7 days'],
] as const;

export function AgentPage({ name }: { name: string }) {
  const [windowS, setWindowS] = useState(3600);
  const q = useQuery<{ agent: AgentDetail | null }>(AGENT_QUERY, { name, window: windowS });
  const refresh = useCoalesced(q.refetch, 1_000);
  const subError = useSubscription(TASK_EVENTS_SUB, { filter: { agent: name } }, refresh);
  const [error, setError] = useState<ApiError>();
  const a = q.data?.agent;
  const changed = (c: AgentControlsState) => q.setData((d) => (d?.agent ? { agent: { ...d.agent, ...c } } : d));
  if (q.data && !a) {
    return (
      <section aria-labelledby="agent-h">
        <h1 id="agent-h">Agent {name}</h1>
        <p class="muted">No agent of that name. <a href={href('agents')}>All agents</a></p>
      </section>
    );
  }
  const s = a?.stats;
  return (
    <section aria-labelledby="agent-h">
      <div class="title-row">
        <h1 id="agent-h">Agent {name}</h1>
        {a ? <span class="pill">v{a.latestVersion}</span> : null}
        {a ? <PausedTag agent={a} /> : null}
        <div class="actions">
          {a ? <PauseButton agent={a} onChange={changed} onError={setError} /> : null}
          <a class="button ghost" href={href('tasks', { agent: name })}>All its tasks</a>
          <a class="button" href={href('agents', { agent: name })}>Submit…</a>
        </div>
      </div>
      <ErrorNote error={error ?? q.error ?? subError} />
      {a?.description ? <p>{a.description}</p> : null}
      {a ? (
        <div class="panel">
          <h2>Controls</h2>
          <p class="muted small" data-controls={a.paused ? 'paused' : 'running'}>
            {a.paused ? 'Paused: its tasks wait in the queue until resumed.' : 'Running: its tasks are claimed as workers free up.'}
          </p>
          <ConcurrencyForm agent={a} onChange={changed} />
        </div>
      ) : null}
      <div class="title-row">
        <h2>Figures</h2>
        <label class="push">
          <span class="sr-only">Window</span>
          <select name="window" value={windowS} onChange={(e) => setWindowS(Number(e.currentTarget.value))}>
            {WINDOWS.map(([w, label]) => <option value={w}>{label}</option>)}
          </select>
        </label>
      </div>
      {!s ? (
        <p class="muted">{q.loading ? 'Loading…' : 'No data.'}</p>
      ) : (
        <>
          <ul class="counts" aria-label="Tasks in the window by status">
            {STATUSES.map((st) => (
              <li key={st}>
                <a href={href('tasks', { status: st, agent: name })} data-count={st}>
                  <StatusBadge status={st} />
                  <strong>{(s.byStatus.find((b) => b.status === st)?.count ?? 0).toLocaleString()}</strong>
                </a>
              </li>
            ))}
          </ul>
          <div class="cards" aria-label="Agent figures">
            <Card label="Success rate" value={s.successRate === null ? '—' : fmtPercent(s.successRate)} hint="succeeded of succeeded + failed" />
            <Card label="Run time p50" value={fmtMs(s.runMsP50)} hint={`${s.attempts.toLocaleString()} attempts`} />
            <Card label="Run time p95" value={fmtMs(s.runMsP95)} />
            <Card label="Run time p99" value={fmtMs(s.runMsP99)} />
            <Card label="Tasks" value={s.tasks.toLocaleString()} hint={s.truncated ? 'the newest 10,000 of the window' : 'created in the window'} />
          </div>
        </>
      )}
      <RecentTasks name={name} />
    </section>
  );
}

function RecentTasks({ name }: { name: string }) {
  const list = useTaskList({ agent: name, first: 10, after: null });
  return (
    <div class="panel">
      <h2>Recent tasks</h2>
      <ErrorNote error={list.error} />
      {list.rows.length ? (
        <TaskTable rows={list.rows} caption={`Recent tasks of ${name}`} />
      ) : (
        <p class="muted">{list.loading ? 'Loading…' : 'No tasks yet.'}</p>
      )}
    </div>
  );
}
