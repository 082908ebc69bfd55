// Display helpers: numbers and times the way an operator reads them.

export function fmtMs(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms === 0) return '0 ms';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function fmtBytes(n: number | string | null | undefined): string {
  if (n == null) return '—';
  const v = Number(n);
  if (v < 1024) return `${v} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = v / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) (x /= 1024), i++;
  return `${x.toFixed(x < 10 ? 1 : 0)} ${units[i]}`;
}

export function fmtNum(n: number | string | null | undefined): string {
  if (n == null) return '—';
  return typeof n === 'string' ? BigInt(n).toLocaleString() : n.toLocaleString();
}

/** A count that may be the server's estimate (past COUNT_EXACT_MAX): "≈ 990,000". */
export function fmtCount(n: number, exact = true): string {
  return exact ? n.toLocaleString() : `≈ ${n.toLocaleString()}`;
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  const time = d.toLocaleTimeString(undefined, { hour12: false });
  return today ? time : `${d.toLocaleDateString()} ${time}`;
}

export function shortId(id: string): string {
  return id.length > 10 ? id.slice(-8) : id;
}

export function fmtPercent(x: number): string {
  return `${Math.round(x * 100)}%`;
}
