/**
 * TenantQuotasInput and its edge validation: each value must lie in the range its QUOTA_* option
 * allows (the ranges come from OPTION_SPECS, not restated here).
 */
import 'reflect-metadata';
import { Field, Float, InputType, Int } from 'type-graphql';
import { optionRange, QUOTA_OPTIONS } from '../config/index.js';
import { badInput, TENANT_QUOTAS, type QuotaOverrides } from '../domain/index.js';

@InputType('TenantQuotasInput', {
  description: "Quota overrides for a tenant: a value sets one, null clears it (the server default applies again), an absent field stays as it is. Each value must lie in its QUOTA_* option's range.",
})
export class TenantQuotasInput {
  @Field(() => Int, { nullable: true, description: 'QUOTA_QUEUED_TASKS for this tenant.' })
  queuedTasks?: number | null;

  @Field(() => Int, { nullable: true, description: 'QUOTA_ACTIVE_TASKS for this tenant.' })
  activeTasks?: number | null;

  @Field(() => Int, { nullable: true, description: 'QUOTA_RUNNING_TASKS for this tenant (0 = no cap, even when the server default has one).' })
  runningTasks?: number | null;

  @Field(() => Float, { nullable: true, description: 'QUOTA_STORED_BYTES for this tenant (an integer).' })
  storedBytes?: number | null;

  @Field(() => Int, { nullable: true, description: 'QUOTA_SUBMIT_RATE for this tenant.' })
  submitRate?: number | null;

  @Field(() => Int, { nullable: true, description: 'QUOTA_SUBMIT_BURST for this tenant.' })
  submitBurst?: number | null;
}

/** The overrides the input sets or clears (absent fields left out), each checked against its option's range. */
export function checkQuotaOverrides(field: string, input: TenantQuotasInput): Partial<QuotaOverrides> {
  const out: Partial<QuotaOverrides> = {};
  for (const q of TENANT_QUOTAS) {
    const value = input[q];
    if (value === undefined) continue;
    if (value !== null) {
      const option = QUOTA_OPTIONS[q];
      const { min, max } = optionRange(option);
      if (!Number.isInteger(value) || value < min || value > max) {
        throw badInput(`${field}.${q}`, `must be an integer between ${min} and ${max} (the range of ${option}), or null for the server default`, { min, max, quota: option });
      }
    }
    out[q] = value;
  }
  return out;
}
