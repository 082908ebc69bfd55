import { useState } from 'preact/hooks';
import { apiKey, connection, reconnect, setApiKey, type LinkState } from '../api/client.js';
import { useStore } from '../api/store.js';

const LABEL: Record<LinkState, string> = {
  connecting: 'Connecting…',
  connected: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

const PAGES = [
  ['', 'Overview'],
  ['tasks', 'Tasks'],
  ['agents', 'Agents'],
] as const;

export function Header({ page }: { page: string }) {
  const conn = useStore(connection);
  return (
    <header class="top">
      <a class="brand" href="#/">
        <span aria-hidden="true">⟳</span> Spindle
      </a>
      <nav aria-label="Pages">
        {PAGES.map(([path, label]) => (
          <a href={`#/${path}`} aria-current={page === path ? 'page' : undefined}>
            {label}
          </a>
        ))}
      </nav>
      <div class="conn" role="status" aria-live="polite" data-state={conn.state} title={conn.error}>
        <span class="dot" aria-hidden="true" /> {conn.authRefused ? 'API key refused' : LABEL[conn.state]}
        {conn.state === 'offline' ? (
          <button type="button" class="link" onClick={reconnect}>
            Reconnect
          </button>
        ) : null}
      </div>
      <KeyField attention={!!conn.authRefused} />
    </header>
  );
}

function KeyField({ attention }: { attention: boolean }) {
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState(apiKey());
  const has = apiKey() !== '';
  if (!open) {
    return (
      <button type="button" class={`key-toggle ${attention ? '' : 'ghost'}`} onClick={() => setOpen(true)} aria-expanded="false">
        {has ? 'API key ✓' : 'API key'}
      </button>
    );
  }
  return (
    <form
      class="key-form"
      onSubmit={(e) => {
        e.preventDefault();
        setApiKey(draft.trim());
        setOpen(false);
      }}
    >
      <label for="api-key">API key</label>
      <input
        id="api-key"
        type="password"
        autoComplete="off"
        placeholder="spd_…"
        value={draft}
        onInput={(e) => setDraft(e.currentTarget.value)}
      />
      <button type="submit">Save</button>
      <button type="button" class="ghost" onClick={() => setOpen(false)}>
        Close
      </button>
    </form>
  );
}
