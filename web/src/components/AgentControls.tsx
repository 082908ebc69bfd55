// Pause/resume and the concurrency limit of an agent: the same controls on the agents list
// (pause only, the limit shown) and on the agent's own page (both).
import { useEffect, useState } from 'preact/hooks';
import { ApiError, gql, type Query } from '../api/client.js';
import { PAUSE_AGENT, RESUME_AGENT, SET_AGENT_CONCURRENCY, type AgentControlsState } from '../api/queries.js';
import { ErrorNote } from './Status.js';

type Changed = (agent: AgentControlsState) => void;

async function call(query: Query, variables: Record<string, unknown>, field: string, onChange: Changed, setError: (e?: ApiError) => void) {
  setError(undefined);
  try {
    onChange((await gql<Record<string, AgentControlsState>>(query, variables))[field]!);
  } catch (e) {
    setError(e as ApiError);
  }
}

/** "Paused" as a tag, never by colour alone. */
export function PausedTag({ agent }: { agent: AgentControlsState }) {
  return agent.paused ? <span class="pill warn-tag" data-paused="true">‖ paused</span> : null;
}

export function PauseButton({ agent, onChange, onError }: { agent: AgentControlsState; onChange: Changed; onError(e?: ApiError): void }) {
  const [busy, setBusy] = useState(false);
  const toggle = async () => {
    setBusy(true);
    const [query, field] = agent.paused ? [RESUME_AGENT, 'resumeAgent'] : [PAUSE_AGENT, 'pauseAgent'];
    await call(query, { id: agent.id }, field, onChange, onError);
    setBusy(false);
  };
  return (
    <button type="button" class="ghost" disabled={busy} onClick={toggle}
      aria-label={`${agent.paused ? 'Resume' : 'Pause'} agent ${agent.name}`}>
      {agent.paused ? 'Resume' : 'Pause'}
    </button>
  );
}

/** The limit as a number field: blank = no limit; the server checks the range and says why it refuses. */
export function ConcurrencyForm({ agent, onChange }: { agent: AgentControlsState; onChange: Changed }) {
  const [value, setValue] = useState(agent.concurrencyLimit?.toString() ?? '');
  const [error, setError] = useState<ApiError>();
  const [saved, setSaved] = useState('');
  useEffect(() => setValue(agent.concurrencyLimit?.toString() ?? ''), [agent.concurrencyLimit]);
  const save = async (e: Event) => {
    e.preventDefault();
    setSaved('');
    const limit = value.trim() === '' ? null : Number(value);
    await call(SET_AGENT_CONCURRENCY, { id: agent.id, limit }, 'setAgentConcurrency', (a) => {
      onChange(a);
      setSaved(a.concurrencyLimit === null ? 'No limit.' : `Limit set to ${a.concurrencyLimit}.`);
    }, setError);
  };
  return (
    <form class="limit-form" onSubmit={save} aria-label={`Concurrency limit of ${agent.name}`}>
      <label>
        Concurrency limit
        <input type="number" name="concurrencyLimit" min={1} max={10000} step={1} placeholder="none" value={value}
          onInput={(e) => setValue(e.currentTarget.value)} />
      </label>
      <button type="submit">Set limit</button>
      <span class="muted small">Tasks held at once (claimed or running), across the cluster; blank for none.</span>
      {saved ? <span class="small" role="status">{saved}</span> : null}
      <ErrorNote error={error} />
    </form>
  );
}
