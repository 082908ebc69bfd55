/** Limits and retry policy as the API shows them (always resolved: defaults filled in). */
import 'reflect-metadata';
import { Field, Float, Int, ObjectType, registerEnumType } from 'type-graphql';
import { RETRYABLE_KINDS, type Limits, type RetryOn, type RetryPolicy } from '../domain/index.js';
import { BigIntScalar } from './scalars.js';

export const RetryOnEnum = Object.fromEntries(RETRYABLE_KINDS.map((k) => [k, k])) as { [K in RetryOn]: K };
registerEnumType(RetryOnEnum, { name: 'RetryOn', description: 'Outcome kinds a retry policy may retry on (nonzero_exit: exited with a code other than 0).' });

@ObjectType('Limits', { description: 'Per-attempt resource limits.' })
export class LimitsType implements Limits {
  @Field(() => Int, { description: 'Wall-clock budget per attempt.' })
  timeoutMs!: number;

  @Field(() => Float, { description: 'Cap on the guest linear memory (rounded down to 64 KiB pages).' })
  memoryBytes!: number;

  @Field(() => BigIntScalar, { nullable: true, description: 'Instruction budget; null means unmetered.' })
  fuel?: bigint;

  @Field(() => Int, { description: 'stdout and stderr are each kept up to this many bytes, then truncated.' })
  maxOutputBytes!: number;
}

@ObjectType('RetryPolicy')
export class RetryPolicyType implements RetryPolicy {
  @Field(() => Int, { description: 'Attempts in total, the first run included.' })
  maxAttempts!: number;

  @Field(() => Int)
  initialBackoffMs!: number;

  @Field(() => Int)
  maxBackoffMs!: number;

  @Field(() => [RetryOnEnum])
  retryOn!: RetryOn[];
}
