/**
 * TenantQuotasInput: the quota overrides a system admin sends. Each value must lie in the range
 * its QUOTA_* option allows, checked by the tenant service (services/quota.service.ts).
 */
import 'reflect-metadata';
import { Field, Float, InputType, Int } from 'type-graphql';
import type { QuotaOverridesParams } from '../services/quota.service.js';

@InputType('TenantQuotasInput', {
  description: "Quota overrides for a tenant: a value sets one, null clears it (the server default applies again), an absent field stays as it is. Each value must lie in its QUOTA_* option's range.",
})
export class TenantQuotasInput implements QuotaOverridesParams {
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

  @Field(() => Float, { nullable: true, description: 'QUOTA_TASK_BYTES for this tenant (an integer).' })
  taskBytes?: number | null;
}
