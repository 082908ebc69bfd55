// Limits as form fields, shared by "register agent" (defaults) and "submit" (per task).
import type { Limits } from '../api/queries.js';

export interface LimitsDraft { timeoutMs: string; memoryMiB: string; fuel: string; maxOutputKiB: string }
export const EMPTY_LIMITS: LimitsDraft = { timeoutMs: '', memoryMiB: '', fuel: '', maxOutputKiB: '' };

/** Only the fields the user filled in: the server's defaults apply to the rest. */
export function limitsInput(d: LimitsDraft): Partial<Record<keyof Limits, number | string>> | undefined {
  const out: Partial<Record<keyof Limits, number | string>> = {};
  if (d.timeoutMs) out.timeoutMs = Number(d.timeoutMs);
  if (d.memoryMiB) out.memoryBytes = Number(d.memoryMiB) * 1024 * 1024;
  if (d.fuel) out.fuel = d.fuel;
  if (d.maxOutputKiB) out.maxOutputBytes = Number(d.maxOutputKiB) * 1024;
  return Object.keys(out).length ? out : undefined;
}

export function LimitsFields({ prefix, value, onChange, placeholder }: {
  prefix: string;
  value: LimitsDraft;
  onChange: (v: LimitsDraft) => void;
  placeholder?: Limits;
}) {
  const field = (k: keyof LimitsDraft, label: string, ph: string, attrs: Record<string, unknown> = {}) => (
    <label>
      {label}
      <input
        name={`${prefix}-${k}`}
        inputMode="numeric"
        type="number"
        min={1}
        placeholder={ph}
        value={value[k]}
        onInput={(e) => onChange({ ...value, [k]: e.currentTarget.value })}
        {...attrs}
      />
    </label>
  );
  const p = placeholder;
  return (
    <fieldset class="row">
      <legend>Limits</legend>
      {field('timeoutMs', 'Timeout (ms)', p ? String(p.timeoutMs) : 'default', { step: 1 })}
      {field('memoryMiB', 'Memory (MiB)', p ? String(p.memoryBytes / 1048576) : 'default', { step: 'any' })}
      {field('fuel', 'Fuel (instructions)', p?.fuel ?? 'unlimited', { step: 1 })}
      {field('maxOutputKiB', 'Max output (KiB)', p ? String(p.maxOutputBytes / 1024) : 'default', { step: 'any' })}
    </fieldset>
  );
}
