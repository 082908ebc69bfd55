import 'reflect-metadata';
import { Field, Float, Int, ObjectType } from 'type-graphql';
import type { TaskStatus } from '../domain/index.js';
import { DateTimeScalar } from './scalars.js';
import { TaskStatusEnum } from './task.type.js';

@ObjectType('StatusCount')
export class StatusCount {
  @Field(() => TaskStatusEnum) status!: TaskStatus;
  @Field(() => Int, { description: 'Tasks in this status: exact up to COUNT_EXACT_MAX (10,000 by default), past it an estimate (see `exact`).' }) count!: number;
  @Field(() => Boolean, { description: 'False: `count` is the database\'s estimate, and more than COUNT_EXACT_MAX tasks are in this status.' }) exact!: boolean;
}

@ObjectType('PoolStats', { description: "This node's worker pool." })
export class PoolStatsType {
  @Field(() => Int) workers!: number;
  @Field(() => Int) busy!: number;
  @Field(() => Int) idle!: number;
  @Field(() => Int, { description: 'Warm spares ready to replace a terminated worker.' }) spares!: number;
  @Field(() => Int, { description: 'Runs waiting for a free worker.' }) queued!: number;
  @Field(() => Float) tasksRun!: number;
  @Field(() => Float, { description: 'Workers terminated (timeout, cancel, death) and replaced.' }) workersReplaced!: number;
  @Field(() => Int) compiledModules!: number;
}

@ObjectType('Stats')
export class Stats {
  @Field(() => [StatusCount]) byStatus!: StatusCount[];
  @Field(() => Int, { description: 'QUEUED + RETRYING.' }) queueDepth!: number;
  @Field(() => Int) running!: number;
  @Field(() => Float, { description: 'Tasks finished per second over the last 10 s (whole cluster).' }) throughputPerSec!: number;
  @Field(() => [Float], { description: 'Finished per second, one point per second, last 300 s, oldest first.' }) throughputSeries!: number[];
  @Field(() => Float, { nullable: true, description: 'Queued → finished, last 60 s: from creation, or from the last retryTask (automatic retries keep the time of their first queueing).' }) latencyP50Ms?: number | null;
  @Field(() => Float, { nullable: true }) latencyP95Ms?: number | null;
  @Field(() => Float, { nullable: true }) latencyP99Ms?: number | null;
  @Field(() => Int, { description: 'Task workers in the cluster (this node alone until the first cluster summary).' }) workers!: number;
  @Field(() => Int) busyWorkers!: number;
  @Field(() => Float, { description: 'busyWorkers / workers (0 without workers).' }) utilisation!: number;
  @Field(() => PoolStatsType) pool!: PoolStatsType;
  @Field(() => String, { description: 'The node that answered.' }) node!: string;
  @Field(() => DateTimeScalar) at!: Date;
}
