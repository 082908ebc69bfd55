/**
 * LimitsInput / RetryPolicyInput as the API takes them: the domain's Limits and RetryPolicy with
 * every field optional. The services check every value (services/limits.ts).
 */
import 'reflect-metadata';
import { Field, Float, InputType, Int } from 'type-graphql';
import type { Limits, Requested, RetryOn, RetryPolicy } from '../domain/index.js';
import { RetryOnEnum } from './limits.type.js';
import { BigIntScalar } from './scalars.js';

@InputType('LimitsInput')
export class LimitsInput implements Requested<Limits> {
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
export class RetryPolicyInput implements Requested<RetryPolicy> {
  @Field(() => Int, { nullable: true })
  maxAttempts?: number | null;

  @Field(() => Int, { nullable: true })
  initialBackoffMs?: number | null;

  @Field(() => Int, { nullable: true })
  maxBackoffMs?: number | null;

  @Field(() => [RetryOnEnum], { nullable: true })
  retryOn?: RetryOn[] | null;
}
