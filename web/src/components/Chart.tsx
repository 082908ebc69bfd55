// Throughput over the last minutes as a plain SVG area chart: 300 points need no chart library.
// The viewBox follows the element's real width so text and strokes are never stretched.
import { useEffect, useRef, useState } from 'preact/hooks';

const H = 180;
const PAD = { l: 34, r: 10, t: 10, b: 22 };

function niceMax(v: number): number {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((x) => x >= v)!;
}

function useWidth<T extends Element>(initial: number) {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(initial);
  useEffect(() => {
    if (!ref.current) return;
    const ro = new ResizeObserver(([e]) => setWidth(Math.max(200, Math.round(e.contentRect.width))));
    ro.observe(ref.current);
    return () => ro.disconnect();
  }, []);
  return [ref, width] as const;
}

export function ThroughputChart({ series, label }: { series: number[]; label: string }) {
  const [ref, W] = useWidth<HTMLElement>(600);
  const max = niceMax(Math.max(0, ...series));
  const n = Math.max(series.length, 2);
  const x = (i: number) => PAD.l + (i / (n - 1)) * (W - PAD.l - PAD.r);
  const y = (v: number) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b);
  const line = series.map((v, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join('');
  const area = series.length ? `${line}L${x(series.length - 1)},${y(0)}L${x(0)},${y(0)}Z` : '';
  const total = series.reduce((a, b) => a + b, 0);
  const peak = Math.max(0, ...series);
  // One tick a minute, counted back from "now" at the right edge.
  const minutes = Array.from({ length: Math.floor((series.length - 1) / 60) + 1 }, (_, m) => m);
  const labelEvery = W < 420 ? 2 : 1;
  return (
    <figure class="chart" ref={ref}>
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={`${label}: peak ${peak}/s`}>
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line class="grid" x1={PAD.l} x2={W - PAD.r} y1={y(max * f)} y2={y(max * f)} />
            <text class="tick" x={PAD.l - 6} y={y(max * f) + 4} text-anchor="end">
              {+(max * f).toFixed(1)}
            </text>
          </g>
        ))}
        {minutes.map((m) => {
          const xi = x(series.length - 1 - m * 60);
          return (
            <g key={m}>
              <line class="grid" x1={xi} x2={xi} y1={y(0)} y2={y(0) + 4} />
              {m % labelEvery === 0 ? (
                <text class="tick" x={xi} y={H - 4} text-anchor={m === 0 ? 'end' : 'middle'}>
                  {m === 0 ? 'now' : `−${m} min`}
                </text>
              ) : null}
            </g>
          );
        })}
        <path class="area" d={area} />
        <path class="line" d={line} />
      </svg>
      <figcaption>
        {label} · peak {peak}/s · {total.toLocaleString()} finished in the last {Math.round(series.length / 60)} min
      </figcaption>
    </figure>
  );
}
