import type { TaskDetail } from '../api/queries.js';
import { fmtBytes } from '../format.js';

/** `scope` keeps ids apart where a page shows several blocks of one label (each attempt's output). */
export function OutputBlock({ label, text, live, truncated, scope }: { label: string; text: string | null; live: boolean; truncated?: boolean; scope?: string }) {
  const id = `out-${scope ? `${scope}-` : ''}${label}`;
  return (
    <div class="output">
      <h3 id={id}>
        {label}
        {live ? <span class="live-tag">streaming</span> : null}
        {truncated ? <span class="warn-tag">truncated</span> : null}
      </h3>
      <pre aria-labelledby={id} data-stream={label} tabIndex={0}>
        {text ? text : <span class="muted">{live ? 'waiting for output…' : '(empty)'}</span>}
      </pre>
    </div>
  );
}

export function OutputFiles({ files }: { files: TaskDetail['outputFiles'] }) {
  if (!files.length) return <p class="muted">No files written.</p>;
  return (
    <ul class="files">
      {files.map((f) => (
        <li key={f.path}>
          <a download={f.path.split('/').pop()} href={`data:application/octet-stream;base64,${f.base64}`} class="mono">
            {f.path}
          </a>{' '}
          <span class="muted">{fmtBytes(f.size)}</span>
          {f.text != null && f.size <= 4096 ? <pre class="preview">{f.text}</pre> : null}
        </li>
      ))}
    </ul>
  );
}
