/** Agent.stats(windowSeconds): an agent's figures over a recent window (services/agent.controls.ts). */
import 'reflect-metadata';
import { Field, Float, Int, ObjectType } from 'type-graphql';
import type { TaskStatus } from '../domain/index.js';
import { DateTimeScalar } from './scalars.js';
import { TaskStatusEnum } from './task.type.js';

@ObjectType('AgentStatusCount')
export class AgentStatusCount {
  @Field(() => TaskStatusEnum) status!: TaskStatus;
  @Field(() => Int, { description: 'The window\'s tasks now in this status.' }) count!: number;
}

@ObjectType('AgentStats', {
  description:
    'An agent\'s tasks created in the window (at most the newest 10,000 of them, see `truncated`) and their attempts.',
})
export class AgentStats {
  @Field(() => Int) windowSeconds!: number;
  @Field(() => DateTimeScalar, { description: 'The window\'s start.' }) since!: Date;
  @Field(() => Int, { description: 'Tasks the figures are of.' }) tasks!: number;
  @Field(() => Boolean, { description: 'The window held more than 10,000 tasks: the figures are of the newest 10,000.' }) truncated!: boolean;
  @Field(() => [AgentStatusCount], { description: 'Every status, zeros included.' }) byStatus!: AgentStatusCount[];
  @Field(() => Float, { nullable: true, description: 'SUCCEEDED / (SUCCEEDED + FAILED), 0..1; null when none of the tasks ended so.' })
  successRate?: number | null;
  @Field(() => Int, { description: 'Attempts of these tasks (late results of a node that had lost a task aside).' }) attempts!: number;
  @Field(() => Int, { nullable: true, description: 'Attempts\' run time (runMs) percentiles, ms; null without attempts.' }) runMsP50?: number | null;
  @Field(() => Int, { nullable: true }) runMsP95?: number | null;
  @Field(() => Int, { nullable: true }) runMsP99?: number | null;
}
