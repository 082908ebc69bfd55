import { useState } from 'preact/hooks';
import { ApiError, gql, subscribe, uploadModule } from '../api/client.js';
import { BUILD_AGENT, BUILD_UPDATED, REGISTER_AGENT, type BuildState } from '../api/queries.js';
import { fmtBytes } from '../format.js';
import { EMPTY_LIMITS, LimitsFields, limitsInput } from './LimitsFields.js';
import { ErrorNote } from './Status.js';

type Source = { kind: 'wat' } | { kind: 'wasm'; file: File } | { kind: 'source' };

/** Languages the server builds (SourceLanguage), with a starting program for each. */
const LANGUAGES = {
  ASSEMBLYSCRIPT: {
    label: 'AssemblyScript',
    file: 'main.ts',
    template: 'const args = process.argv;\nconsole.log("hello, " + (args.length > 1 ? args[1] : "world"));\n',
  },
  C: {
    label: 'C',
    file: 'main.c',
    template: '#include <stdio.h>\n\nint main(int argc, char **argv) {\n  printf("hello, %s\\n", argc > 1 ? argv[1] : "world");\n  return 0;\n}\n',
  },
  CPP: {
    label: 'C++',
    file: 'main.cpp',
    template: '#include <iostream>\n\nint main(int argc, char **argv) {\n  std::cout << "hello, " << (argc > 1 ? argv[1] : "world") << std::endl;\n}\n',
  },
} as const;
type Language = keyof typeof LANGUAGES;

interface BuildDiagnostic {
  severity: string;
  code: string;
  message: string;
  file: string | null;
  line: number | null;
  column: number | null;
}

export function RegisterAgent({ onDone }: { onDone: (name: string, version: number) => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [wat, setWat] = useState('');
  const [language, setLanguage] = useState<Language>('ASSEMBLYSCRIPT');
  const [code, setCode] = useState<string>(LANGUAGES.ASSEMBLYSCRIPT.template);
  const [source, setSource] = useState<Source>({ kind: 'wat' });
  const [limits, setLimits] = useState(EMPTY_LIMITS);
  const [dragging, setDragging] = useState(false);
  const [resets, setResets] = useState(0); // remounts the file input, which cannot be cleared otherwise
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [build, setBuild] = useState<Pick<BuildState, 'status' | 'cached'>>();

  const pick = (file: File | undefined) => {
    if (!file) return;
    setSource({ kind: 'wasm', file });
    if (!name) setName(file.name.replace(/\.wasm$/i, '').replace(/[^A-Za-z0-9_.-]+/g, '-'));
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setBuild(undefined);
    try {
      const input: Record<string, unknown> = { name: name.trim(), description: description.trim() || undefined, defaultLimits: limitsInput(limits) };
      let registered: { name: string; latestVersion: number };
      // Modules go up as raw bytes (POST /modules), never base64 inside a GraphQL body.
      if (source.kind === 'wasm') input.moduleDigest = (await uploadModule(await source.file.arrayBuffer())).digest;
      else if (source.kind === 'wat') input.wat = wat;
      if (source.kind === 'source') {
        input.source = { language, files: [{ path: LANGUAGES[language].file, text: code }] };
        registered = await buildAndFollow(input, setBuild);
      } else {
        registered = (await gql<{ registerAgent: { name: string; latestVersion: number } }>(REGISTER_AGENT, { input })).registerAgent;
      }
      setName('');
      setDescription('');
      setWat('');
      if (source.kind !== 'source') setSource({ kind: 'wat' });
      setResets((n) => n + 1);
      onDone(registered.name, registered.latestVersion);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel form" onSubmit={submit} aria-labelledby="register-h">
      <h2 id="register-h">Register an agent</h2>
      <p class="muted small">A new name creates an agent; an existing name adds a version.</p>
      <div class="row">
        <label>
          Name
          <input name="agent-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Description
          <input name="agent-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </label>
      </div>
      <div
        class={`drop ${dragging ? 'over' : ''}`}
        onDragOver={(e) => (e.preventDefault(), setDragging(true))}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => (e.preventDefault(), setDragging(false), pick(e.dataTransfer?.files[0]))}
      >
        <label>
          Module (.wasm) — drop a file here or choose one
          <input key={resets} name="wasm-file" type="file" accept=".wasm,application/wasm" onChange={(e) => pick(e.currentTarget.files?.[0])} />
        </label>
        {source.kind === 'wasm' ? (
          <p class="small">
            {source.file.name} · {fmtBytes(source.file.size)}{' '}
            <button type="button" class="link" onClick={() => setSource({ kind: 'wat' })}>use WAT instead</button>
          </p>
        ) : null}
      </div>
      <p class="small">
        {source.kind === 'source' ? (
          <button type="button" class="link" onClick={() => setSource({ kind: 'wat' })}>paste WAT instead</button>
        ) : (
          <button type="button" class="link" onClick={() => setSource({ kind: 'source' })}>…or write source for the server to build</button>
        )}
      </p>
      {source.kind === 'source' ? (
        <>
          <label>
            Language
            <select
              name="source-language"
              value={language}
              onChange={(e) => {
                const next = e.currentTarget.value as Language;
                // A template nobody edited follows the language.
                if (code === LANGUAGES[language].template) setCode(LANGUAGES[next].template);
                setLanguage(next);
              }}
            >
              {Object.entries(LANGUAGES).map(([value, l]) => (
                <option key={value} value={value}>{l.label}</option>
              ))}
            </select>
          </label>
          <label>
            {LANGUAGES[language].file}
            <textarea name="source-code" rows={12} class="mono" required spellcheck={false} value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          </label>
        </>
      ) : null}
      {source.kind === 'wat' ? (
        <label>
          …or paste WebAssembly text (WAT)
          <textarea name="wat" rows={8} class="mono" required spellcheck={false} value={wat}
            placeholder={'(module\n  (import "wasi_snapshot_preview1" "fd_write" …)\n  (func (export "_start") …))'}
            onInput={(e) => setWat(e.currentTarget.value)} />
        </label>
      ) : null}
      <details>
        <summary>Default limits</summary>
        <LimitsFields prefix="agent" value={limits} onChange={setLimits} />
      </details>
      <ErrorNote error={error} />
      {error?.code === 'BUILD_FAILED' ? <BuildReport extensions={error.extensions} /> : null}
      <button type="submit" disabled={busy}>{busy ? (source.kind === 'source' ? 'Building…' : 'Registering…') : 'Register agent'}</button>
      {build && source.kind === 'source' ? (
        <p class="muted small" role="status" data-build-status={build.status}>
          {build.status === 'QUEUED' ? 'Build queued…' : build.status === 'RUNNING' ? 'Building on the server: a few seconds the first time, about a second after…' : build.status === 'SUCCEEDED' ? `Built${build.cached ? ' (the same source was built before: reused)' : ''}.` : 'Build failed.'}
        </p>
      ) : null}
    </form>
  );
}

/**
 * buildAgent, then its buildUpdated until it ends: `onState` hears every state; the registered
 * agent when it SUCCEEDED, a BUILD_FAILED ApiError (with its diagnostics and log) when it FAILED.
 */
async function buildAndFollow(input: Record<string, unknown>, onState: (b: BuildState) => void): Promise<{ name: string; latestVersion: number }> {
  const { buildAgent } = await gql<{ buildAgent: BuildState }>(BUILD_AGENT, { input });
  onState(buildAgent);
  return new Promise((resolve, reject) => {
    let stop = () => {};
    stop = subscribe<{ buildUpdated: BuildState }>(
      BUILD_UPDATED,
      { id: buildAgent.id },
      ({ buildUpdated: b }) => {
        onState(b);
        if (b.status === 'SUCCEEDED') resolve({ name: b.agent?.name ?? String(input.name), latestVersion: b.agentVersion ?? 1 });
        else if (b.status === 'FAILED') reject(new ApiError(b.error ?? 'the build failed', 'BUILD_FAILED', { diagnostics: b.diagnostics, log: b.log }));
        else return;
        stop();
      },
      (e) => (stop(), reject(e)),
    );
  });
}

/** A failed build: its diagnostics (where and what) and the compiler's log. */
function BuildReport({ extensions }: { extensions: Record<string, unknown> }) {
  const diagnostics = (extensions.diagnostics ?? []) as BuildDiagnostic[];
  const log = typeof extensions.log === 'string' ? extensions.log : '';
  return (
    <div class="build-report">
      <ul class="diagnostics" aria-label="Build diagnostics">
        {diagnostics.map((d, i) => (
          <li key={i} class={`diag-${d.severity}`}>
            <code>{d.file ?? '?'}{d.line !== null ? `:${d.line}:${d.column}` : ''}</code> <code>{d.code}</code> {d.message}
          </li>
        ))}
      </ul>
      {log ? (
        <details>
          <summary>Compiler log</summary>
          <pre class="mono log">{log}</pre>
        </details>
      ) : null}
    </div>
  );
}
