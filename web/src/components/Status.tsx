import type { TaskStatus } from '../api/queries.js';

// Colour plus a glyph plus the word: status never relies on colour alone.
const GLYPH: Record<TaskStatus, string> = {
  QUEUED: '◷',
  RUNNING: '▶',
  RETRYING: '↻',
  SUCCEEDED: '✓',
  FAILED: '✕',
  CANCELLED: '⊘',
};

export function StatusBadge({ status }: { status: TaskStatus }) {
  return (
    <span class={`badge s-${status.toLowerCase()}`} data-status={status}>
      <span aria-hidden="true">{GLYPH[status]}</span> {status.toLowerCase()}
    </span>
  );
}

export function ErrorNote({ error }: { error: { message: string; code?: string } | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.code ? <code>{error.code}</code> : null} {error.message}
    </p>
  );
}
