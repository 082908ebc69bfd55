import { useEffect, useState } from 'preact/hooks';
import { ApiError, gql } from '../api/client.js';
import { RETRY_ON, SUBMIT_TASKS, type AgentInfo, type TaskRow } from '../api/queries.js';
import { EMPTY_LIMITS, LimitsFields, limitsInput } from './LimitsFields.js';
import { ErrorNote } from './Status.js';

const MAX_COPIES = 1000;

async function toBase64(file: File): Promise<string> {
  const url = await new Promise<string>((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result as string);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
  return url.slice(url.indexOf(',') + 1);
}

const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean);

function parseEnv(s: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const l of lines(s)) {
    const i = l.indexOf('=');
    if (i <= 0) throw new ApiError(`Env line "${l}" is not KEY=VALUE`, 'BAD_USER_INPUT');
    env[l.slice(0, i)] = l.slice(i + 1);
  }
  return env;
}

export function SubmitForm({ agents, agent, onSubmitted }: {
  agents: AgentInfo[];
  agent: string;
  onSubmitted: (tasks: TaskRow[]) => void;
}) {
  const [name, setName] = useState(agent);
  /** '' = the latest version when the task is submitted. */
  const [version, setVersion] = useState('');
  const [stdin, setStdin] = useState('');
  const [args, setArgs] = useState('');
  const [env, setEnv] = useState('');
  const [files, setFiles] = useState<File[]>([]);
  const [limits, setLimits] = useState(EMPTY_LIMITS);
  const [retry, setRetry] = useState({ maxAttempts: '', initialBackoffMs: '', maxBackoffMs: '' });
  const [retryOn, setRetryOn] = useState<string[]>(['timeout', 'host_error']);
  const [priority, setPriority] = useState('');
  const [copies, setCopies] = useState('1');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [done, setDone] = useState(0);
  useEffect(() => {
    if (agent) setName(agent);
    else if (!name && agents.length) setName(agents[0].name);
  }, [agent, agents.length]);
  const chosen = agents.find((a) => a.name === name);
  const defaults = chosen?.versions.find((v) => v.version === (version ? Number(version) : chosen.latestVersion))?.defaultLimits;

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setDone(0);
    try {
      const n = Math.min(MAX_COPIES, Math.max(1, Number(copies) || 1));
      const retryPolicy = Object.fromEntries(Object.entries(retry).filter(([, v]) => v).map(([k, v]) => [k, Number(v)]));
      const input = {
        agent: name,
        version: version ? Number(version) : undefined,
        stdin: stdin || undefined,
        args: lines(args),
        env: parseEnv(env),
        files: await Promise.all(files.map(async (f) => ({ path: f.name, base64: await toBase64(f) }))),
        limits: limitsInput(limits),
        retryPolicy: { ...retryPolicy, retryOn },
        priority: priority ? Number(priority) : undefined,
      };
      const r = await gql<{ submitTasks: TaskRow[] }>(SUBMIT_TASKS, { inputs: Array.from({ length: n }, () => input) });
      onSubmitted(r.submitTasks);
      setDone(r.submitTasks.length);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };

  const num = (v: string, set: (v: string) => void, attrs: Record<string, unknown> = {}) => (
    <input type="number" inputMode="numeric" value={v} onInput={(e) => set(e.currentTarget.value)} {...attrs} />
  );
  return (
    <form class="panel form" onSubmit={submit} aria-labelledby="submit-h">
      <h2 id="submit-h">Submit tasks</h2>
      <div class="row">
        <label>
          Agent
          <select name="submit-agent" required value={name} onChange={(e) => (setName(e.currentTarget.value), setVersion(''))}>
            {agents.length ? null : <option value="">Register an agent first</option>}
            {agents.map((a) => <option value={a.name}>{a.name} (v{a.latestVersion})</option>)}
          </select>
        </label>
        <label>
          Version
          <select name="submit-version" value={version} onChange={(e) => setVersion(e.currentTarget.value)}>
            <option value="">latest{chosen ? ` (v${chosen.latestVersion})` : ''}</option>
            {[...(chosen?.versions ?? [])].sort((a, b) => b.version - a.version).map((v) => <option value={String(v.version)}>v{v.version}</option>)}
          </select>
        </label>
        <label>
          Copies
          {num(copies, setCopies, { name: 'copies', min: 1, max: MAX_COPIES, required: true })}
        </label>
        <label>
          Priority
          {num(priority, setPriority, { name: 'priority', placeholder: '0' })}
        </label>
      </div>
      <label>
        Stdin
        <textarea name="stdin" rows={3} class="mono" value={stdin} onInput={(e) => setStdin(e.currentTarget.value)} />
      </label>
      <div class="row">
        <label>
          Args (one per line)
          <textarea name="args" rows={3} class="mono" value={args} onInput={(e) => setArgs(e.currentTarget.value)} />
        </label>
        <label>
          Env (KEY=VALUE per line)
          <textarea name="env" rows={3} class="mono" value={env} onInput={(e) => setEnv(e.currentTarget.value)} />
        </label>
      </div>
      <label>
        Input files (placed at / in the sandbox)
        <input name="files" type="file" multiple onChange={(e) => setFiles([...(e.currentTarget.files ?? [])])} />
      </label>
      <details>
        <summary>Limits and retry policy</summary>
        <LimitsFields prefix="task" value={limits} onChange={setLimits} placeholder={defaults} />
        <fieldset class="row">
          <legend>Retry policy</legend>
          <label>Max attempts {num(retry.maxAttempts, (v) => setRetry({ ...retry, maxAttempts: v }), { min: 1, placeholder: '3' })}</label>
          <label>Initial backoff (ms) {num(retry.initialBackoffMs, (v) => setRetry({ ...retry, initialBackoffMs: v }), { min: 0, placeholder: 'default' })}</label>
          <label>Max backoff (ms) {num(retry.maxBackoffMs, (v) => setRetry({ ...retry, maxBackoffMs: v }), { min: 0, placeholder: 'default' })}</label>
        </fieldset>
        <fieldset class="checks">
          <legend>Retry on</legend>
          {RETRY_ON.map((k) => (
            <label class="check">
              <input type="checkbox" checked={retryOn.includes(k)}
                onChange={(e) => setRetryOn(e.currentTarget.checked ? [...retryOn, k] : retryOn.filter((x) => x !== k))} />
              {k.replace(/_/g, ' ')}
            </label>
          ))}
        </fieldset>
      </details>
      <ErrorNote error={error} />
      {done ? (
        <p class="notice" role="status">
          Submitted {done} task{done === 1 ? '' : 's'}.{' '}
          <button type="button" class="link" onClick={() => document.getElementById('submitted')?.scrollIntoView({ behavior: 'smooth' })}>
            Watch {done === 1 ? 'it' : 'them'} ↓
          </button>
        </p>
      ) : null}
      <button type="submit" disabled={busy || !name}>{busy ? 'Submitting…' : 'Submit'}</button>
    </form>
  );
}
