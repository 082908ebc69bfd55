/** A figure with its label and an optional hint (overview and agent pages). */
export function Card({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <div class="card">
      <span class="label">{label}</span>
      <span class="value">{value}</span>
      {hint ? <span class="hint">{hint}</span> : null}
    </div>
  );
}
