// A task's input files with the start of each as text (inputFilePreviews), read once: they never change.
import { useQuery } from '../api/hooks.js';
import { INPUT_PREVIEWS_QUERY, type FilePreview } from '../api/queries.js';
import { fmtBytes } from '../format.js';
import { ErrorNote } from './Status.js';

export function InputFiles({ id }: { id: string }) {
  const q = useQuery<{ task: { inputFilePreviews: FilePreview[] } | null }>(INPUT_PREVIEWS_QUERY, { id });
  const files = q.data?.task?.inputFilePreviews;
  if (q.error) return <ErrorNote error={q.error} />;
  if (!files) return <p class="muted">Loading…</p>;
  if (!files.length) return <p class="muted">No input files.</p>;
  return (
    <ul class="files file-previews" aria-label="Input files">
      {files.map((f) => (
        <li key={f.path} data-input-file={f.path}>
          <details open={files.length <= 3 && f.text !== null}>
            <summary>
              <span class="mono">{f.path}</span> <span class="muted">{f.kind === 'file' ? fmtBytes(f.size) : f.kind}</span>
              {f.binary ? <span class="warn-tag">binary</span> : null}
              {f.truncated && !f.binary ? <span class="warn-tag">truncated</span> : null}
            </summary>
            {f.text !== null ? (
              <pre class="preview" tabIndex={0} aria-label={`Contents of ${f.path}`}>{f.text || <span class="muted">(empty)</span>}</pre>
            ) : (
              <p class="muted">{f.binary ? 'Binary file: no text preview.' : f.kind === 'dir' ? 'An empty directory.' : 'A symlink.'}</p>
            )}
          </details>
        </li>
      ))}
    </ul>
  );
}
