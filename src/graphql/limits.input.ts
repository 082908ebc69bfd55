/**
 * LimitsInput / RetryPolicyInput and their edge validation: every value is checked once here,
 * against the configured maxima, with an error that names the field and the allowed range.
 */
import 'reflect-metadata';
import { Field, Float, InputType, Int } from 'type-graphql';
import type { Config } from '../config/index.js';
import { badInput, WASM_PAGE_BYTES, type Limits, type RetryOn, type RetryPolicy } from '../domain/index.js';
import { DEFAULT_RETRY_POLICY } from '../executor/retry.js';
import { RetryOnEnum } from './limits.type.js';
import { BigIntScalar } from './scalars.js';

/** The largest maxBackoffMs a task may ask for. */
export const MAX_BACKOFF_CEILING_MS = 3_600_000;

@InputType('LimitsInput')
export class LimitsInput {
  @Field(() => Int, { nullable: true })
  timeoutMs?: number | null;

  @Field(() => Float, { nullable: true })
  memoryBytes?: number | null;

  @Field(() => BigIntScalar, { nullable: true })
  fuel?: bigint | null;

  @Field(() => Int, { nullable: true })
  maxOutputBytes?: number | null;
}

@InputType('RetryPolicyInput')
export class RetryPolicyInput {
  @Field(() => Int, { nullable: true })
  maxAttempts?: number | null;

  @Field(() => Int, { nullable: true })
  initialBackoffMs?: number | null;

  @Field(() => Int, { nullable: true })
  maxBackoffMs?: number | null;

  @Field(() => [RetryOnEnum], { nullable: true })
  retryOn?: RetryOn[] | null;
}

const inRange = (field: string, value: number, min: number, max: number) => {
  if (!Number.isInteger(value) || value < min || value > max) throw badInput(field, `must be between ${min} and ${max}`, { min, max });
  return value;
};

/** Validates the limits a caller gave (no defaults filled): each against its configured maximum. */
export function checkLimits(field: string, input: LimitsInput | null | undefined, config: Config): Partial<Limits> {
  const out: Partial<Limits> = {};
  if (!input) return out;
  const { max } = config.limits;
  if (input.timeoutMs != null) out.timeoutMs = inRange(`${field}.timeoutMs`, input.timeoutMs, 1, max.timeoutMs);
  if (input.memoryBytes != null) out.memoryBytes = inRange(`${field}.memoryBytes`, input.memoryBytes, WASM_PAGE_BYTES, max.memoryBytes);
  if (input.maxOutputBytes != null) out.maxOutputBytes = inRange(`${field}.maxOutputBytes`, input.maxOutputBytes, 1, max.maxOutputBytes);
  if (input.fuel != null) {
    const ceiling = max.fuel;
    if (input.fuel < 1n || (ceiling !== undefined && input.fuel > ceiling)) {
      throw badInput(`${field}.fuel`, ceiling === undefined ? 'must be at least 1' : `must be between 1 and ${ceiling}`, { min: '1', max: ceiling?.toString() ?? null });
    }
    out.fuel = input.fuel;
  }
  return out;
}

/** Task limits: the task's own, else the agent version's defaults, else the server defaults. */
export function resolveLimits(own: Partial<Limits>, agentDefaults: Partial<Limits>, config: Config): Limits {
  const merged: Limits = { ...config.limits.defaults, ...stripUndefined(agentDefaults), ...stripUndefined(own) };
  if (merged.fuel === undefined) delete merged.fuel;
  return merged;
}

export function resolveRetryPolicy(field: string, input: RetryPolicyInput | null | undefined, config: Config): RetryPolicy {
  const { retry } = config;
  const policy: RetryPolicy = {
    maxAttempts: retry.defaultMaxAttempts,
    initialBackoffMs: retry.backoffInitialMs,
    maxBackoffMs: retry.backoffMaxMs,
    retryOn: [...DEFAULT_RETRY_POLICY.retryOn],
  };
  if (!input) return policy;
  if (input.maxAttempts != null) policy.maxAttempts = inRange(`${field}.maxAttempts`, input.maxAttempts, 1, retry.maxAttemptsLimit);
  if (input.initialBackoffMs != null) policy.initialBackoffMs = inRange(`${field}.initialBackoffMs`, input.initialBackoffMs, 0, MAX_BACKOFF_CEILING_MS);
  if (input.maxBackoffMs != null) policy.maxBackoffMs = inRange(`${field}.maxBackoffMs`, input.maxBackoffMs, 0, MAX_BACKOFF_CEILING_MS);
  if (policy.maxBackoffMs < policy.initialBackoffMs) {
    // Only an explicit value can be wrong here; name the one the caller set.
    const which = input.maxBackoffMs != null ? 'maxBackoffMs' : 'initialBackoffMs';
    throw badInput(`${field}.${which}`, `maxBackoffMs (${policy.maxBackoffMs}) must be at least initialBackoffMs (${policy.initialBackoffMs})`);
  }
  if (input.retryOn != null) policy.retryOn = [...new Set(input.retryOn)];
  return policy;
}

const stripUndefined = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
