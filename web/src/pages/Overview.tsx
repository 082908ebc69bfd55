import { Card } from '../components/Card.js';
import { ErrorNote, StatusBadge } from '../components/Status.js';
import { ThroughputChart } from '../components/Chart.js';
import { TaskTable } from '../components/TaskTable.js';
import { useTaskList } from '../api/task-list.js';
import { useQuery, useSubscription } from '../api/hooks.js';
import { STATS_QUERY, STATS_SUB, STATUSES, type Stats } from '../api/queries.js';
import { fmtCount, fmtMs, fmtPercent } from '../format.js';
import { href } from '../router.js';

type StatsData = { stats: Stats };

export function OverviewPage() {
  // One query for the first paint (and after reconnects), then the server pushes every second.
  const q = useQuery<StatsData>(STATS_QUERY);
  const subError = useSubscription<StatsData>(STATS_SUB, {}, (d) => q.setData(() => d));
  const s = q.data?.stats;
  return (
    <section aria-labelledby="overview-h">
      <h1 id="overview-h">Overview</h1>
      <ErrorNote error={q.error ?? subError} />
      {!s ? (
        <p class="muted">{q.loading ? 'Loading…' : 'No data.'}</p>
      ) : (
        <>
          <ul class="counts" aria-label="Tasks by status">
            {STATUSES.map((st) => (
              <li key={st}>
                <a href={href('tasks', { status: st })} data-count={st}>
                  <StatusBadge status={st} />
                  <strong>{countOf(s.byStatus.find((b) => b.status === st))}</strong>
                </a>
              </li>
            ))}
          </ul>
          <div class="cards">
            <Card label="Throughput" value={`${s.throughputPerSec.toFixed(1)} /s`} hint="finished, last 10 s" />
            <Card label="Queue depth" value={s.queueDepth.toLocaleString()} hint="queued + retrying" />
            <Card label="Latency p50" value={fmtMs(s.latencyP50Ms)} hint="queued → finished, 60 s" />
            <Card label="Latency p95" value={fmtMs(s.latencyP95Ms)} hint={`p99 ${fmtMs(s.latencyP99Ms)}`} />
            <div class="card">
              <span class="label">Workers</span>
              <span class="value">
                {s.busyWorkers}/{s.workers} busy
              </span>
              <div class="bar" role="meter" aria-label="Worker utilisation" aria-valuemin={0} aria-valuemax={100}
                aria-valuenow={Math.round(s.utilisation * 100)}>
                <span style={{ width: fmtPercent(Math.min(1, s.utilisation)) }} />
              </div>
              <span class="hint">{fmtPercent(s.utilisation)} utilisation</span>
            </div>
          </div>
          <div class="panel">
            <h2>Throughput (tasks/s)</h2>
            <ThroughputChart series={s.throughputSeries} label="Tasks finished per second" />
          </div>
          <LatestTasks />
        </>
      )}
    </section>
  );
}

function LatestTasks() {
  const list = useTaskList({ first: 8, after: null });
  return (
    <div class="panel">
      <div class="title-row">
        <h2>Latest tasks</h2>
        <a class="push" href={href('tasks')}>All tasks →</a>
      </div>
      <ErrorNote error={list.error} />
      {list.rows.length ? (
        <TaskTable rows={list.rows} caption="Latest tasks" />
      ) : (
        <p class="muted">{list.loading ? 'Loading…' : 'No tasks yet.'}</p>
      )}
    </div>
  );
}

/** A status's count; "≈ N" when it is the server's estimate (past COUNT_EXACT_MAX). */
function countOf(c: Stats['byStatus'][number] | undefined): string {
  return c ? fmtCount(c.count, c.exact) : '0';
}
