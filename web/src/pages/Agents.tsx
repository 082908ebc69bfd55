import { useState } from 'preact/hooks';
import { ApiError, gql } from '../api/client.js';
import { useQuery } from '../api/hooks.js';
import { AGENTS_QUERY, DELETE_AGENT, type AgentControlsState, type AgentInfo } from '../api/queries.js';
import { PausedTag, PauseButton } from '../components/AgentControls.js';
import { useConfirm } from '../components/Confirm.js';
import { RegisterAgent } from '../components/RegisterAgent.js';
import { ErrorNote } from '../components/Status.js';
import { SubmitForm } from '../components/SubmitForm.js';
import { Submitted, useLiveTasks } from '../components/Submitted.js';
import { fmtBytes, fmtMs, fmtTime } from '../format.js';
import { href, navigate } from '../router.js';

export function AgentsPage({ query }: { query: URLSearchParams }) {
  const q = useQuery<{ agents: AgentInfo[] }>(AGENTS_QUERY);
  const agents = q.data?.agents ?? [];
  const selected = query.get('agent') ?? '';
  const live = useLiveTasks();
  const [notice, setNotice] = useState('');
  const [error, setError] = useState<ApiError>();
  const [ask, dialog] = useConfirm();
  // A pause or resume shows at once; the list is not asked for again.
  const changed = (c: AgentControlsState) => q.setData((d) => d && { agents: d.agents.map((a) => (a.id === c.id ? { ...a, ...c } : a)) });
  const remove = async (a: AgentInfo) => {
    const question = {
      title: 'Delete agent?',
      message: `Delete agent ${a.name}? No task can be submitted to it any more; its tasks stay readable.`,
      confirm: `Delete ${a.name}`,
    };
    if (!(await ask(question))) return;
    setError(undefined);
    try {
      await gql(DELETE_AGENT, { id: a.id });
      setNotice(`Deleted agent ${a.name}.`);
      q.refetch();
      if (a.name === selected) navigate('agents');
    } catch (e) {
      setError(e as ApiError);
    }
  };
  return (
    <section aria-labelledby="agents-h">
      <h1 id="agents-h">Agents</h1>
      <ErrorNote error={error ?? q.error} />
      {notice ? <p class="notice" role="status">{notice}</p> : null}
      {q.data && !agents.length ? <p class="muted empty">No agents yet. Register one below.</p> : null}
      {agents.length ? (
        <ul class="agents">
          {agents.map((a) => (
            <AgentCard key={a.id} agent={a} selected={a.name === selected} onDelete={() => remove(a)} onChange={changed} onError={setError} />
          ))}
        </ul>
      ) : null}
      <div class="grid2 forms">
        <SubmitForm agents={agents} agent={selected} onSubmitted={live.add} />
        <RegisterAgent
          onDone={(name, version) => {
            setNotice(`Registered ${name} v${version}.`);
            q.refetch();
            navigate('agents', { agent: name });
          }}
        />
      </div>
      <Submitted rows={live.rows} error={live.error} />
      {dialog}
    </section>
  );
}

interface AgentCardProps {
  agent: AgentInfo;
  selected: boolean;
  onDelete(): void;
  onChange(c: AgentControlsState): void;
  onError(e?: ApiError): void;
}

function AgentCard({ agent: a, selected, onDelete, onChange, onError }: AgentCardProps) {
  const latest = a.versions.find((v) => v.version === a.latestVersion) ?? a.versions[0];
  return (
    <li class={`panel agent ${selected ? 'selected' : ''}`} data-agent={a.name}>
      <div class="title-row">
        <h2>
          <a href={href(`agents/${encodeURIComponent(a.name)}`)}>{a.name}</a>
        </h2>
        <span class="pill">v{a.latestVersion}</span>
        <PausedTag agent={a} />
        {a.concurrencyLimit !== null ? <span class="pill" title="Concurrency limit: tasks held at once">≤ {a.concurrencyLimit} at once</span> : null}
        <div class="actions">
          <PauseButton agent={a} onChange={onChange} onError={onError} />
          <a class="button ghost" href={href('tasks', { agent: a.name })}>Tasks</a>
          <a class="button" href={href('agents', { agent: a.name })} aria-label={`Submit tasks to ${a.name}`}
            onClick={() => setTimeout(() => document.getElementById('submit-h')?.scrollIntoView({ behavior: 'smooth' }))}>
            Submit…
          </a>
          <button type="button" class="ghost" aria-label={`Delete agent ${a.name}`} onClick={onDelete}>
            Delete
          </button>
        </div>
      </div>
      {a.description ? <p>{a.description}</p> : null}
      {latest ? (
        <p class="muted small">
          {fmtBytes(latest.moduleSize)} · timeout {fmtMs(latest.defaultLimits.timeoutMs)} · memory{' '}
          {fmtBytes(latest.defaultLimits.memoryBytes)}
          {latest.defaultLimits.fuel ? ` · fuel ${BigInt(latest.defaultLimits.fuel).toLocaleString()}` : ''} · updated{' '}
          {fmtTime(a.updatedAt)}
        </p>
      ) : null}
      <details>
        <summary>{a.versions.length} version{a.versions.length === 1 ? '' : 's'}</summary>
        <ul class="versions">
          {[...a.versions].sort((x, y) => y.version - x.version).map((v) => (
            <li key={v.id}>
              <strong>v{v.version}</strong> <span class="mono small" title={v.moduleDigest}>{v.moduleDigest.slice(0, 12)}</span>{' '}
              <span class="muted small">{fmtBytes(v.moduleSize)} · {fmtTime(v.createdAt)}</span>
            </li>
          ))}
        </ul>
      </details>
    </li>
  );
}
