import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, gql, type Query } from '../api/client.js';
import { useCoalesced, useQuery, useSubscription, useTick } from '../api/hooks.js';
import { useEventOverlay } from '../api/live.js';
import {
  ACTIVE, bulkMutation, CANCEL_TASK, RETRY_TASK, TASK_OUTPUT_SUB, TASK_QUERY, TASK_UPDATED_SUB,
  type BulkResult, type TaskDetail, type TaskEvent, type TaskRow,
} from '../api/queries.js';
import { AttemptsTimeline } from '../components/Attempts.js';
import { useConfirm } from '../components/Confirm.js';
import { InputFiles } from '../components/InputFiles.js';
import { OutputBlock, OutputFiles } from '../components/Output.js';
import { ErrorNote, StatusBadge } from '../components/Status.js';
import { resultText } from '../components/TaskTable.js';
import { fmtBytes, fmtMs, fmtNum, fmtTime } from '../format.js';
import { href, navigate } from '../router.js';

type Data = { task: TaskDetail | null };
type Chunk = { taskId: string; attempt: number; stream: 'stdout' | 'stderr'; data: string };
const LIVE_CAP = 1 << 20; // the server caps output too; this keeps a flood from freezing the tab

export function TaskPage({ id }: { id: string }) {
  const q = useQuery<Data>(TASK_QUERY, { id });
  const refetch = useCoalesced(q.refetch, 50);
  const [live, setLive] = useState({ attempt: 0, stdout: '', stderr: '' });
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<ApiError>();
  const [ask, dialog] = useConfirm();

  const { push, overlay } = useEventOverlay();
  // Both subscriptions complete when the task ends; a retry from this page starts a new round of them.
  const [round, setRound] = useState(0);
  const evError = useSubscription<{ taskUpdated: TaskEvent }>(TASK_UPDATED_SUB, { id }, ({ taskUpdated: e }) => {
    push([e]); // on screen now, and not undone by an older answer still in flight
    refetch(); // fill in attempts, output and files
  }, false, round);
  const outError = useSubscription<{ taskOutput: Chunk }>(TASK_OUTPUT_SUB, { id }, ({ taskOutput: c }) =>
    setLive((l) => {
      const base = c.attempt === l.attempt ? l : { attempt: c.attempt, stdout: '', stderr: '' };
      return { ...base, [c.stream]: (base[c.stream] + c.data).slice(-LIVE_CAP) };
    }),
  false, round);

  const t = q.data?.task ? overlay(q.data.task) : undefined;
  const active = t ? ACTIVE.includes(t.status) : false;
  const now = useTick(active ? 500 : 60_000);
  // A cancelled run's attempt is written once the run has wound down, after the CANCELLED event, and
  // no event follows that write: ask again (a few times) while the task counts an attempt not yet listed.
  const unlisted = !!t && !active && t.attempts > (t.attemptList.at(-1)?.n ?? 0);
  const asked = useRef(0);
  useEffect(() => {
    if (!unlisted) return void (asked.current = 0);
    if (asked.current >= 20) return;
    const timer = setTimeout(() => (asked.current++, refetch()), 250);
    return () => clearTimeout(timer);
  }, [unlisted, q.data]);
  if (!t) {
    return (
      <section>
        <h1>Task</h1>
        <ErrorNote error={q.error} />
        <p class="muted">{q.loading || !q.data ? 'Loading…' : `No task ${id}.`}</p>
      </section>
    );
  }

  // While the current attempt runs, show what it streams; afterwards the stored result.
  // A stale attempt (a late result of a node that had lost the task) is not the task's result.
  const last = t.attemptList.findLast((a) => !a.stale);
  const recorded = last?.n ?? 0;
  const streaming = active && live.attempt > recorded;
  const act = async (mutation: Query, key: 'cancelTask' | 'retryTask') => {
    if (key === 'cancelTask' && !(await ask({ title: 'Cancel task?', message: `Cancel task ${t.id}? ${t.status === 'RUNNING' ? 'Its run is stopped.' : 'It will not run.'}`, confirm: 'Cancel task' }))) return;
    setBusy(true);
    setActionError(undefined);
    try {
      const r = await gql<Record<string, TaskRow>>(mutation, { id });
      if (r[key].id !== id) navigate(`tasks/${encodeURIComponent(r[key].id)}`);
      else q.setData((d) => (d?.task ? { task: { ...d.task, ...r[key], agentVersion: d.task.agentVersion } } : d)), refetch();
      if (key === 'retryTask') setRound((n) => n + 1);
    } catch (e) {
      setActionError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    if (!(await ask({ title: 'Delete task?', message: `Delete task ${t.id} with its attempts and output? This cannot be undone.`, confirm: 'Delete task' }))) return;
    setBusy(true);
    setActionError(undefined);
    try {
      const r = await gql<{ deleteTasks: BulkResult }>(bulkMutation('deleteTasks'), { ids: [id] });
      if (r.deleteTasks.done === 1) navigate('tasks');
      else setActionError(new ApiError('The task was not deleted: it has not ended.'));
    } catch (e) {
      setActionError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="task-h" class="task-page">
      <p class="crumb">
        <a href={href('tasks')}>← Tasks</a>
      </p>
      <div class="title-row">
        <h1 id="task-h">
          Task <span class="mono">{t.id}</span>
        </h1>
        <StatusBadge status={t.status} />
        <div class="actions">
          <button type="button" class="danger" disabled={!active || busy} onClick={() => act(CANCEL_TASK, 'cancelTask')}>
            Cancel
          </button>
          {/* retryTask takes FAILED and CANCELLED tasks only (CONFLICT otherwise). */}
          <button
            type="button"
            disabled={active || busy || t.status === 'SUCCEEDED'}
            title={t.status === 'SUCCEEDED' ? 'A task that succeeded is not retried; submit it again instead' : undefined}
            onClick={() => act(RETRY_TASK, 'retryTask')}
          >
            Retry
          </button>
          <button type="button" class="danger" disabled={active || busy} onClick={remove}>
            Delete
          </button>
        </div>
        {dialog}
      </div>
      <ErrorNote error={actionError ?? q.error ?? evError ?? outError} />
      <div class="grid2">
        <dl class="facts panel">
          <Fact k="Agent" v={<a href={href('tasks', { agent: t.agent.name })}>{t.agent.name} v{t.agentVersion.version}</a>} />
          <Fact k="Outcome" v={<span data-field="outcome">{resultText(t)}</span>} />
          <Fact k="Exit code" v={<span data-field="exit-code">{t.exitCode ?? '—'}</span>} />
          <Fact
            k="Attempts"
            v={
              <span data-field="attempts">
                {`${t.attemptsSinceRetry} of ${t.retryPolicy.maxAttempts}`}
                {t.attempts > t.attemptsSinceRetry ? ` (${t.attempts} in all, retried by hand)` : ''}
              </span>
            }
          />
          <Fact k="Created" v={fmtTime(t.createdAt)} />
          <Fact k="Started" v={fmtTime(t.startedAt)} />
          <Fact k="Finished" v={fmtTime(t.finishedAt)} />
          <Fact k="Queued for" v={fmtMs(t.queueMs)} />
          <Fact k="Duration" v={fmtMs(t.durationMs ?? (active ? now - Date.parse(t.createdAt) : null))} />
          <Fact k="Fuel used" v={fmtNum(last?.fuelUsed)} />
          <Fact k="Memory peak" v={fmtBytes(last?.memoryPeakBytes)} />
        </dl>
        <dl class="facts panel">
          <Fact k="Timeout" v={fmtMs(t.limits.timeoutMs)} />
          <Fact k="Memory limit" v={fmtBytes(t.limits.memoryBytes)} />
          <Fact k="Fuel limit" v={fmtNum(t.limits.fuel)} />
          <Fact k="Output limit" v={fmtBytes(t.limits.maxOutputBytes)} />
          <Fact k="Retry on" v={t.retryPolicy.retryOn.join(', ') || 'never'} />
          <Fact k="Backoff" v={`${fmtMs(t.retryPolicy.initialBackoffMs)} → ${fmtMs(t.retryPolicy.maxBackoffMs)}`} />
          <Fact k="Priority" v={String(t.priority)} />
          <Fact k="Module" v={<span class="mono small" title={t.agentVersion.moduleDigest}>{t.agentVersion.moduleDigest.slice(0, 16)}…</span>} />
          <Fact k="Args" v={<span class="mono">{t.args.length ? t.args.join(' ') : '—'}</span>} />
          <Fact k="Env" v={<span class="mono">{Object.entries(t.env ?? {}).map(([k, v]) => `${k}=${v}`).join(' ') || '—'}</span>} />
          <Fact k="Input files" v={t.inputFiles.map((f) => `${f.path} (${fmtBytes(f.size)})`).join(', ') || '—'} />
        </dl>
      </div>
      <div class="panel" data-panel="output">
        <h2>Output</h2>
        <div class="grid2">
          <OutputBlock label="stdout" text={streaming ? live.stdout : t.stdout} live={active} truncated={last?.stdoutTruncated} />
          <OutputBlock label="stderr" text={streaming ? live.stderr : t.stderr} live={active} truncated={last?.stderrTruncated} />
        </div>
        {t.stdin ? <OutputBlock label="stdin" text={t.stdin} live={false} /> : null}
        <h3>Files written</h3>
        <OutputFiles files={t.outputFiles} />
      </div>
      {t.inputFiles.length ? (
        <div class="panel" data-panel="input-files">
          <h2>Input files</h2>
          <InputFiles id={t.id} />
        </div>
      ) : null}
      <div class="panel">
        <h2>Attempts</h2>
        <AttemptsTimeline attempts={t.attemptList} createdAt={t.createdAt} endAt={t.finishedAt ? Date.parse(t.finishedAt) : now}
          running={t.status === 'RUNNING' && t.startedAt
            ? { n: Math.max(t.attempts, recorded + 1), since: last ? Date.parse(last.finishedAt) : Date.parse(t.startedAt) }
            : undefined} />
      </div>
    </section>
  );
}

function Fact({ k, v }: { k: string; v: ComponentChildren }) {
  return (
    <div>
      <dt>{k}</dt>
      <dd>{v}</dd>
    </div>
  );
}
