/**
 * A task's limits and retry policy as a caller gives them, checked once: every value against the
 * configured maxima, with an error that names the field and the allowed range; then the defaults
 * filled in (the task's own, else the agent version's, else the server's).
 */
import type { Config } from '../config/index.js';
import { badInput, FUEL_MAX, WASM_PAGE_BYTES, type Limits, type Requested, type RetryPolicy } from '../domain/index.js';

const inRange = (field: string, value: number, min: number, max: number) => {
  if (!Number.isInteger(value) || value < min || value > max) throw badInput(field, `must be between ${min} and ${max}`, { min, max });
  return value;
};

/** Validates the limits a caller gave (no defaults filled): each against its configured maximum. */
export function checkLimits(field: string, input: Requested<Limits> | null | undefined, config: Config): Partial<Limits> {
  const out: Partial<Limits> = {};
  if (!input) return out;
  const { max } = config.limits;
  if (input.timeoutMs != null) out.timeoutMs = inRange(`${field}.timeoutMs`, input.timeoutMs, 1, max.timeoutMs);
  if (input.memoryBytes != null) out.memoryBytes = inRange(`${field}.memoryBytes`, input.memoryBytes, WASM_PAGE_BYTES, max.memoryBytes);
  if (input.maxOutputBytes != null) out.maxOutputBytes = inRange(`${field}.maxOutputBytes`, input.maxOutputBytes, 1, max.maxOutputBytes);
  if (input.fuel != null) {
    const ceiling = max.fuel ?? FUEL_MAX;
    if (input.fuel < 1n || input.fuel > ceiling) throw badInput(`${field}.fuel`, `must be between 1 and ${ceiling}`, { min: '1', max: ceiling.toString() });
    out.fuel = input.fuel;
  }
  return out;
}

/** Task limits: the task's own, else the agent version's defaults, else the server defaults. */
export function resolveLimits(own: Partial<Limits>, agentDefaults: Partial<Limits>, config: Config): Limits {
  // Field by field (no spreads, no Object.entries): this runs for every submitted task.
  const base = config.limits.defaults;
  const merged: Limits = {
    timeoutMs: own.timeoutMs ?? agentDefaults.timeoutMs ?? base.timeoutMs,
    memoryBytes: own.memoryBytes ?? agentDefaults.memoryBytes ?? base.memoryBytes,
    maxOutputBytes: own.maxOutputBytes ?? agentDefaults.maxOutputBytes ?? base.maxOutputBytes,
  };
  const fuel = own.fuel ?? agentDefaults.fuel ?? base.fuel;
  if (fuel != null) merged.fuel = fuel;
  return merged;
}

/** The task's retry policy: each field it gives (checked against the configured maximum), else the server default. */
export function resolveRetryPolicy(field: string, input: Requested<RetryPolicy> | null | undefined, config: Config): RetryPolicy {
  const { defaults, max } = config.retryPolicy;
  // Most tasks give none: they share the server's defaults (frozen with the rest of the config).
  if (!input) return defaults;
  const policy: RetryPolicy = { ...defaults, retryOn: [...defaults.retryOn] };
  if (input.maxAttempts != null) policy.maxAttempts = inRange(`${field}.maxAttempts`, input.maxAttempts, 1, max.maxAttempts);
  if (input.initialBackoffMs != null) policy.initialBackoffMs = inRange(`${field}.initialBackoffMs`, input.initialBackoffMs, 0, max.initialBackoffMs);
  if (input.maxBackoffMs != null) policy.maxBackoffMs = inRange(`${field}.maxBackoffMs`, input.maxBackoffMs, 0, max.maxBackoffMs);
  if (policy.maxBackoffMs < policy.initialBackoffMs) {
    // Only an explicit value can be wrong here; name the one the caller set.
    const which = input.maxBackoffMs != null ? 'maxBackoffMs' : 'initialBackoffMs';
    throw badInput(`${field}.${which}`, `maxBackoffMs (${policy.maxBackoffMs}) must be at least initialBackoffMs (${policy.initialBackoffMs})`);
  }
  if (input.retryOn != null) policy.retryOn = [...new Set(input.retryOn)];
  return policy;
}
