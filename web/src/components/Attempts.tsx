import type { Attempt } from '../api/queries.js';
import { fmtBytes, fmtMs, fmtNum, fmtTime } from '../format.js';
import { OutputBlock } from './Output.js';
import { resultText } from './TaskTable.js';

/** Attempts on one time axis from task creation, then their numbers in a table. */
export interface Running { n: number; since: number }

/** The timeline's bars and the table's Wall column: the attempt as the node saw it, not the guest's own run. */
const WALL_NOTE = 'started → finished on the node: compile, start-up and output included';
const GUEST_NOTE = "the guest's own run, from its entry point to its exit";
const STALE_NOTE = 'a late result from a node that had lost the task; it did not change the task';
const StaleTag = () => <span class="stale-tag" title={STALE_NOTE}>stale</span>;

export function AttemptsTimeline({ attempts, createdAt, endAt, running }: {
  attempts: Attempt[];
  createdAt: string;
  endAt: number;
  running?: Running;
}) {
  if (!attempts.length && !running) return <p class="muted">No attempt has started yet.</p>;
  const t0 = Date.parse(createdAt);
  const span = Math.max(endAt - t0, 1);
  const pct = (t: number) => `${Math.min(100, Math.max(0, ((t - t0) / span) * 100)).toFixed(2)}%`;
  return (
    <>
      <ol class="timeline" aria-label="Attempts over time">
        {attempts.map((a, i) => {
          const ok = a.outcome === 'exited' && a.exitCode === 0;
          const s = Date.parse(a.startedAt);
          const f = Date.parse(a.finishedAt);
          return (
            // Not keyed by number alone: a stale attempt shares its number with the live one.
            <li key={i} data-stale={a.stale || undefined}>
              <span class="t-label">#{a.n}</span>
              <span class="t-track">
                <span
                  class={`t-bar ${ok ? 'ok' : a.outcome === 'cancelled' ? 'off' : 'bad'}${a.stale ? ' stale' : ''}`}
                  style={{ left: pct(s), width: `max(3px, calc(${pct(f)} - ${pct(s)}))` }}
                />
              </span>
              <span class="t-text">
                {ok ? '✓' : a.outcome === 'cancelled' ? '⊘' : '✕'} {resultText(a)} · <span title={WALL_NOTE}>{fmtMs(f - s)} wall</span>
                {a.stale ? <StaleTag /> : null}
              </span>
            </li>
          );
        })}
        {running ? (
          <li key="running">
            <span class="t-label">#{running.n}</span>
            <span class="t-track">
              <span class="t-bar run" style={{ left: pct(running.since), width: `max(3px, calc(${pct(endAt)} - ${pct(running.since)}))` }} />
            </span>
            <span class="t-text">▶ running · {fmtMs(endAt - running.since)}</span>
          </li>
        ) : null}
      </ol>
      {attempts.length ? <AttemptsTable attempts={attempts} /> : null}
      {/* The Output panel shows the last attempt; with more than one, each keeps its own. */}
      {attempts.length > 1 ? (
        <div class="attempt-outputs">
          {attempts.map((a, i) => (
            <details key={i} data-attempt-output={a.n} data-stale={a.stale || undefined}>
              <summary>
                Output of attempt #{a.n}
                {a.stale ? <StaleTag /> : null}
              </summary>
              <div class="grid2">
                <OutputBlock scope={`attempt-${i}`} label="stdout" text={a.stdout} live={false} truncated={a.stdoutTruncated} />
                <OutputBlock scope={`attempt-${i}`} label="stderr" text={a.stderr} live={false} truncated={a.stderrTruncated} />
              </div>
            </details>
          ))}
        </div>
      ) : null}
    </>
  );
}

function AttemptsTable({ attempts }: { attempts: Attempt[] }) {
  return (
    <div class="table-wrap">
      <table class="attempts">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Outcome</th>
            <th scope="col">Started</th>
            <th scope="col" class="num" title={WALL_NOTE}>Wall</th>
            <th scope="col" class="num">Compile</th>
            <th scope="col" class="num" title={GUEST_NOTE}>Guest run</th>
            <th scope="col" class="num">Fuel</th>
            <th scope="col" class="num">Memory peak</th>
            <th scope="col">Node</th>
          </tr>
        </thead>
        <tbody>
          {attempts.map((a, i) => (
            <tr key={i} data-attempt={a.n} data-stale={a.stale || undefined}>
              <td>{a.n}{a.stale ? <StaleTag /> : null}</td>
              <td>
                {resultText(a)}
                {a.trap ? <div class="muted small">trap {a.trap.code}: {a.trap.message}</div> : null}
                {a.error ? <div class="muted small">{a.error}</div> : null}
              </td>
              <td>{fmtTime(a.startedAt)}</td>
              <td class="num" data-field="wall">{fmtMs(Date.parse(a.finishedAt) - Date.parse(a.startedAt))}</td>
              <td class="num">{fmtMs(a.compileMs)}</td>
              <td class="num">{fmtMs(a.runMs)}</td>
              <td class="num">{fmtNum(a.fuelUsed)}</td>
              <td class="num">{fmtBytes(a.memoryPeakBytes)}</td>
              <td class="mono small">{a.node}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
