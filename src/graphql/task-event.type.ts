import 'reflect-metadata';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { OutcomeKind, TaskStatus } from '../domain/index.js';
import { DateTimeScalar } from './scalars.js';
import { OutcomeKindEnum, OutputStreamEnum, TaskStatusEnum } from './task.type.js';

@ObjectType('TaskEvent', { description: 'A state change of a task, published after it was written.' })
export class TaskEventType {
  @Field(() => ID) taskId!: string;
  @Field(() => TaskStatusEnum) status!: TaskStatus;
  @Field(() => Int, { description: 'Attempt number the event belongs to (0 before the first).' }) attempt!: number;
  @Field(() => OutcomeKindEnum, { nullable: true }) outcome?: OutcomeKind | null;
  @Field(() => Int, { nullable: true }) exitCode?: number | null;
  @Field(() => ID) agentId!: string;
  @Field(() => DateTimeScalar) at!: Date;
  // task: field resolver (loaded on demand).
}

@ObjectType('OutputChunk', { description: 'A piece of live stdout/stderr of a running task.' })
export class OutputChunkType {
  @Field(() => ID) taskId!: string;
  @Field(() => Int) attempt!: number;
  @Field(() => OutputStreamEnum) stream!: 'stdout' | 'stderr';
  @Field(() => Int, { description: "Where the chunk starts in its attempt's stream, in bytes: an attempt's chunks of a stream follow each other without gap or overlap." })
  offset!: number;
  @Field(() => String, { description: 'UTF-8 (lossy: a chunk may split a character; use base64 for exact bytes).' }) data!: string;
  @Field(() => String) base64!: string;
}
