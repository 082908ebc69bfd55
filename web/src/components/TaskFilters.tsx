// The task list's search box and time range; their state lives in the URL (#/tasks?q=&range=&from=&to=).
import { useEffect, useMemo, useState } from 'preact/hooks';

/** As the API checks filter.search (services/task.service.ts MIN_SEARCH, MAX_SEARCH). */
export const MIN_SEARCH = 3;
export const MAX_SEARCH = 200;

/** A search box that sends what was typed after a pause (or at once on Enter), when it can be searched. */
export function SearchBox({ value, onSearch }: { value: string; onSearch(q: string): void }) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  const trimmed = text.trim();
  const short = trimmed.length > 0 && trimmed.length < MIN_SEARCH;
  useEffect(() => {
    if (short || trimmed === value) return;
    const t = setTimeout(() => onSearch(trimmed), 400);
    return () => clearTimeout(t);
  }, [trimmed]);
  return (
    <label class="search">
      Search
      <input type="search" name="search" value={text} maxLength={MAX_SEARCH} autoComplete="off"
        placeholder="id, agent, args, stdin, output, error…" aria-describedby="search-hint"
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => e.key === 'Enter' && !short && onSearch(trimmed)} />
      <span id="search-hint" class="hint" role={short ? 'alert' : undefined}>
        {short ? `Type at least ${MIN_SEARCH} characters to search.` : 'Id (or its last characters), agent name, args, stdin, output and errors.'}
      </span>
    </label>
  );
}

export const RANGES = { '': 'Any time', '1h': 'Last hour', '24h': 'Last day', '7d': 'Last week', custom: 'Custom…' } as const;
export type RangeKey = keyof typeof RANGES;
const RANGE_MS: Record<string, number> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 };

/**
 * createdAfter / createdBefore of a range: a preset counts back from when it was chosen (`since`,
 * so the list does not re-query on every render); custom takes the from/to inputs (local times).
 */
export function useCreatedRange(range: string, from: string, to: string, since: number): { createdAfter?: string; createdBefore?: string } {
  return useMemo(() => {
    if (range in RANGE_MS) return { createdAfter: new Date(since - RANGE_MS[range]!).toISOString() };
    if (range !== 'custom') return {};
    const iso = (local: string) => (local && !Number.isNaN(Date.parse(local)) ? new Date(local).toISOString() : undefined);
    return { createdAfter: iso(from), createdBefore: iso(to) };
  }, [range, from, to, since]);
}

export function TimeRange({ range, from, to, onChange }: { range: string; from: string; to: string; onChange(k: 'range' | 'from' | 'to', v: string): void }) {
  return (
    <>
      <label>
        Created
        <select name="range" value={range} onChange={(e) => onChange('range', e.currentTarget.value)}>
          {Object.entries(RANGES).map(([k, label]) => (
            <option value={k}>{label}</option>
          ))}
        </select>
      </label>
      {range === 'custom' ? (
        <>
          <label>
            From
            <input type="datetime-local" name="from" value={from} max={to || undefined} onChange={(e) => onChange('from', e.currentTarget.value)} />
          </label>
          <label>
            To
            <input type="datetime-local" name="to" value={to} min={from || undefined} onChange={(e) => onChange('to', e.currentTarget.value)} />
          </label>
        </>
      ) : null}
    </>
  );
}
