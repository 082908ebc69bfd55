import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, connection, gql, subscribe, type Query } from './client.js';
import { useStore } from './store.js';

export interface QueryResult<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  /** performance.now() when the request behind `data` was sent: anything learnt after it is newer. */
  requestedAt: number;
  refetch: () => void;
  /** Apply a subscription event to what is on screen without waiting for a round trip. */
  setData: (fn: (prev: T | undefined) => T | undefined) => void;
}

/** Runs the query on mount, when its variables change and after every (re)connect. */
export function useQuery<T>(query: Query, variables: Record<string, unknown> = {}, skip = false): QueryResult<T> {
  const { epoch } = useStore(connection);
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(!skip);
  const [requestedAt, setRequestedAt] = useState(0);
  const seq = useRef(0);
  const inFlight = useRef(0);
  const again = useRef(false);
  const vars = JSON.stringify(variables);

  const run = useCallback(() => {
    if (skip) return;
    // One request at a time per view; a refetch asked for meanwhile runs once when it returns.
    if (inFlight.current) {
      again.current = true;
      return;
    }
    const mine = ++seq.current;
    inFlight.current = mine;
    setLoading(true);
    const sent = performance.now();
    gql<T>(query, JSON.parse(vars))
      .then((d) => mine === seq.current && (setData(d), setRequestedAt(sent), setError(undefined)))
      .catch((e: ApiError) => mine === seq.current && setError(e))
      .finally(() => {
        if (mine === seq.current) setLoading(false);
        if (inFlight.current !== mine) return;
        inFlight.current = 0;
        if (again.current) {
          again.current = false;
          run();
        }
      });
  }, [query, vars, skip]);

  useEffect(() => {
    // New variables make older answers stale; forget an in-flight one.
    seq.current++;
    inFlight.current = 0;
    again.current = false;
    run();
  }, [run, epoch]);

  return { data, error, loading, requestedAt, refetch: run, setData };
}

/**
 * Subscribes while mounted; re-subscribes when the variables, the ws client or `round` change
 * (a new round: e.g. after a retry, for a subscription the server completed at the task's end).
 */
export function useSubscription<T>(
  query: Query,
  variables: Record<string, unknown>,
  onData: (data: T) => void,
  skip = false,
  round = 0,
): ApiError | undefined {
  const { generation } = useStore(connection);
  const [error, setError] = useState<ApiError>();
  const handler = useRef(onData);
  handler.current = onData;
  const vars = JSON.stringify(variables);
  useEffect(() => {
    if (skip) return;
    setError(undefined);
    return subscribe<T>(query, JSON.parse(vars), (d) => handler.current(d), setError);
  }, [query, vars, generation, skip, round]);
  return error;
}

/** Coalesces bursts of calls into one call `ms` after the first. */
export function useCoalesced(fn: () => void, ms = 50): () => void {
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => () => clearTimeout(timer.current), []);
  return useCallback(() => {
    if (timer.current !== undefined) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      latest.current();
    }, ms);
  }, [ms]);
}

/** Re-renders every `ms` (relative times like "3 s ago"). */
export function useTick(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
