/** A tenant's retention as the API shows it: the values in force and which of them are the tenant's own. */
import 'reflect-metadata';
import { Field, Float, ObjectType } from 'type-graphql';

@ObjectType('TenantRetention', {
  description: "How long the tenant's ended tasks are kept (with attempts, output and files) before the sweeper deletes them: the tenant's overrides, else the server defaults (RETAIN_* options).",
})
export class TenantRetention {
  @Field(() => Float, { nullable: true, description: 'SUCCEEDED tasks, ms after they ended; null = kept forever.' })
  succeededMs!: number | null;

  @Field(() => Float, { nullable: true, description: 'FAILED tasks, ms after they ended; null = kept forever.' })
  failedMs!: number | null;

  @Field(() => Float, { nullable: true, description: 'CANCELLED tasks, ms after they ended; null = kept forever.' })
  cancelledMs!: number | null;

  @Field(() => [String], { description: 'The fields set for this tenant (succeededMs, failedMs, cancelledMs); the others are the server defaults.' })
  overridden!: string[];
}
