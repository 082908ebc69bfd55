/** A tenant's quotas as the API shows them: the values in force and which of them are the tenant's own. */
import 'reflect-metadata';
import { Field, Float, Int, ObjectType, registerEnumType } from 'type-graphql';
import { TENANT_QUOTAS, type TenantQuota } from '../domain/index.js';

export const TenantQuotaEnum = Object.fromEntries(TENANT_QUOTAS.map((q) => [q, q])) as { [K in TenantQuota]: K };
registerEnumType(TenantQuotaEnum, { name: 'TenantQuota', description: 'A per-tenant quota: the TenantQuotas field of the same name.' });

@ObjectType('TenantQuotas', { description: "The quotas in force for a tenant: the tenant's overrides, else the server defaults (QUOTA_* options)." })
export class TenantQuotas {
  @Field(() => Int, { description: 'Most tasks waiting (QUEUED or RETRYING); a submit past it is refused (QUOTA_QUEUED_TASKS).' })
  queuedTasks!: number;

  @Field(() => Int, { description: 'Most unfinished tasks (waiting or RUNNING); a submit past it is refused (QUOTA_ACTIVE_TASKS).' })
  activeTasks!: number;

  @Field(() => Int, { description: 'Most tasks RUNNING at once on the whole cluster, counting those a node has claimed for its workers (0 = no cap); the rest wait queued (QUOTA_RUNNING_TASKS).' })
  runningTasks!: number;

  @Field(() => Float, { description: 'Total bytes of the modules the tenant stored (QUOTA_STORED_BYTES).' })
  storedBytes!: number;

  @Field(() => Int, { description: 'Tasks submitted per second per node, sustained (QUOTA_SUBMIT_RATE).' })
  submitRate!: number;

  @Field(() => Int, { description: 'Tasks submitted at once per node after a quiet spell (QUOTA_SUBMIT_BURST).' })
  submitBurst!: number;

  @Field(() => Float, { description: "Total bytes the tenant's task attempts store: stdout, stderr, output files; a submit while at it is refused (QUOTA_TASK_BYTES)." })
  taskBytes!: number;

  @Field(() => [TenantQuotaEnum], { description: 'The quotas set for this tenant; the others are the server defaults.' })
  overridden!: TenantQuota[];
}
