import 'reflect-metadata';
import { Field, Float, ID, InputType, Int } from 'type-graphql';
import type { TaskStatus } from '../domain/index.js';
import { LimitsInput, RetryPolicyInput } from './limits.input.js';
import { DateTimeScalar, JSONScalar } from './scalars.js';
import { TaskStatusEnum } from './task.type.js';

@InputType('FileInput', { description: 'An input file, preopened under "/"; exactly one of base64 and text.' })
export class FileInput {
  @Field(() => String, { description: 'Relative or absolute ("/" is the root); no "..", no empty segments.' })
  path!: string;
  @Field(() => String, { nullable: true }) base64?: string | null;
  @Field(() => String, { nullable: true }) text?: string | null;
}

@InputType('DeterministicInput', { description: 'Seeded random_get and a fixed clock start, for reproducible runs.' })
export class DeterministicInput {
  @Field(() => Int) seed!: number;
  @Field(() => Float, { nullable: true, description: 'What the realtime clock reads first, ms since the Unix epoch (default 0).' })
  epochMs?: number | null;
}

@InputType('SubmitTaskInput')
export class SubmitTaskInput {
  @Field(() => String, { description: 'Agent id or name.' }) agent!: string;
  @Field(() => Int, { nullable: true, description: 'Agent version; latest when omitted.' }) version?: number | null;
  @Field(() => [String], { nullable: true }) args?: string[] | null;
  @Field(() => JSONScalar, { nullable: true, description: 'An object of string values.' }) env?: unknown;
  @Field(() => String, { nullable: true, description: 'stdin as UTF-8 text; or use stdinBase64.' }) stdin?: string | null;
  @Field(() => String, { nullable: true }) stdinBase64?: string | null;
  @Field(() => [FileInput], { nullable: true }) files?: FileInput[] | null;
  @Field(() => LimitsInput, { nullable: true }) limits?: LimitsInput | null;
  @Field(() => RetryPolicyInput, { nullable: true }) retryPolicy?: RetryPolicyInput | null;
  @Field(() => Int, { nullable: true, description: 'Higher runs first (default 0).' }) priority?: number | null;
  @Field(() => DateTimeScalar, { nullable: true, description: 'Run not before this time.' }) runAt?: Date | null;
  @Field(() => String, { nullable: true, description: 'Resubmitting with the same key returns the existing task.' }) idempotencyKey?: string | null;
  @Field(() => DeterministicInput, { nullable: true }) deterministic?: DeterministicInput | null;
}

@InputType('TaskFilter')
export class TaskFilterInput {
  @Field(() => [TaskStatusEnum], { nullable: true }) status?: TaskStatus[] | null;
  @Field(() => String, { nullable: true, description: 'Agent id or name.' }) agent?: string | null;
  @Field(() => DateTimeScalar, { nullable: true }) createdAfter?: Date | null;
  @Field(() => DateTimeScalar, { nullable: true }) createdBefore?: Date | null;
}

@InputType('TaskEventFilter')
export class TaskEventFilterInput {
  @Field(() => [TaskStatusEnum], { nullable: true }) status?: TaskStatus[] | null;
  @Field(() => String, { nullable: true, description: 'Agent id or name.' }) agent?: string | null;
  @Field(() => [ID], { nullable: true }) taskIds?: string[] | null;
}
