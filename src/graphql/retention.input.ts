/**
 * TenantRetentionInput: the retention overrides a system admin sends, in ms. Each value must be 0
 * (keep forever) or lie in the range of its RETAIN_* option, checked by the tenant service.
 */
import 'reflect-metadata';
import { Field, Float, InputType } from 'type-graphql';
import type { RetentionOverridesParams } from '../services/tenant.service.js';

@InputType('TenantRetentionInput', {
  description: 'Retention overrides for a tenant in ms: a value sets one (0 = keep forever), null clears it (the server default applies again), an absent field stays as it is.',
})
export class TenantRetentionInput implements RetentionOverridesParams {
  @Field(() => Float, { nullable: true, description: 'RETAIN_SUCCEEDED for this tenant, ms (an integer).' })
  succeededMs?: number | null;

  @Field(() => Float, { nullable: true, description: 'RETAIN_FAILED for this tenant, ms (an integer).' })
  failedMs?: number | null;

  @Field(() => Float, { nullable: true, description: 'RETAIN_CANCELLED for this tenant, ms (an integer).' })
  cancelledMs?: number | null;
}
