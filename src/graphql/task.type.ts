/** Task, its attempts and files as the API shows them; resolvers return store rows (TaskRow, TaskAttemptRow). */
import 'reflect-metadata';
import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { OUTCOME_KINDS, TASK_STATUSES, type OutcomeKind, type TaskStatus } from '../domain/index.js';
import { LimitsType, RetryPolicyType } from './limits.type.js';
import { BigIntScalar, DateTimeScalar, JSONScalar } from './scalars.js';
import type { TaskCount } from '../services/types.js';

const enumOf = <T extends string>(values: readonly T[]) => Object.fromEntries(values.map((v) => [v, v])) as { [K in T]: K };

export const TaskStatusEnum = enumOf(TASK_STATUSES);
registerEnumType(TaskStatusEnum, { name: 'TaskStatus' });
export const OutcomeKindEnum = enumOf(OUTCOME_KINDS);
registerEnumType(OutcomeKindEnum, { name: 'OutcomeKind', description: 'How one attempt ended.' });
export const OutputStreamEnum = enumOf(['stdout', 'stderr'] as const);
registerEnumType(OutputStreamEnum, { name: 'OutputStream' });
export const TaskOrderFieldEnum = { CREATED_AT: 'CREATED_AT', FINISHED_AT: 'FINISHED_AT', DURATION: 'DURATION', PRIORITY: 'PRIORITY' } as const;
export type TaskOrderFieldEnum = keyof typeof TaskOrderFieldEnum;
registerEnumType(TaskOrderFieldEnum, {
  name: 'TaskOrderField',
  valuesConfig: {
    FINISHED_AT: { description: 'Unfinished tasks come last in either direction.' },
    DURATION: { description: 'durationMs (finish − creation); unfinished tasks come last in either direction.' },
  },
});
export const SortDirectionEnum = { ASC: 'ASC', DESC: 'DESC' } as const;
export type SortDirectionEnum = keyof typeof SortDirectionEnum;
registerEnumType(SortDirectionEnum, { name: 'SortDirection' });
export const FileKindEnum = enumOf(['file', 'dir', 'symlink'] as const);
registerEnumType(FileKindEnum, { name: 'FileKind', description: 'A regular file, a directory (given empty) or a symlink.' });

@ObjectType('FileInfo')
export class FileInfo {
  @Field(() => String, { description: 'Absolute.' }) path!: string;
  @Field(() => Int, { description: 'Bytes of a file; 0 for a directory; the length of a symlink\'s target.' }) size!: number;
  @Field(() => FileKindEnum) kind!: 'file' | 'dir' | 'symlink';
  @Field(() => String, { nullable: true, description: 'Where a symlink points (relative); null for the others.' }) symlinkTarget!: string | null;
}

@ObjectType('FilePreview', { description: 'The start of an input file as text, for display.' })
export class FilePreview {
  @Field(() => String, { description: 'Absolute.' }) path!: string;
  @Field(() => Int, { description: 'Bytes of the whole file (0 for a directory, the target\'s length for a symlink).' }) size!: number;
  @Field(() => FileKindEnum) kind!: 'file' | 'dir' | 'symlink';
  @Field(() => String, {
    nullable: true,
    description: 'The first maxBytes bytes as UTF-8 (a character cut at the end is left out); null for a binary file, a directory or a symlink.',
  })
  text!: string | null;
  @Field(() => Boolean, { description: 'The file is longer than the preview (text holds only its start).' }) truncated!: boolean;
  @Field(() => Boolean, { description: 'The file\'s start is not UTF-8 text (invalid UTF-8, or a NUL byte): no text is given.' }) binary!: boolean;
}

@ObjectType('Mount', { description: 'A preopened directory of the task (fd 3, 4, … in order).' })
export class MountType {
  @Field(() => String) path!: string;
  @Field(() => Boolean) readOnly!: boolean;
}

@ObjectType('File')
export class File {
  @Field(() => String) path!: string;
  @Field(() => Int) size!: number;
  @Field(() => String) base64!: string;
  @Field(() => String, { nullable: true, description: 'The contents when they are valid UTF-8.' }) text?: string | null;
}

@ObjectType('Trap')
export class Trap {
  @Field(() => String) code!: string;
  @Field(() => String) message!: string;
}

@ObjectType('TaskAttempt')
export class TaskAttempt {
  @Field(() => Int) n!: number;
  @Field(() => String) node!: string;
  @Field(() => OutcomeKindEnum) outcome!: OutcomeKind;
  @Field(() => Int, { nullable: true }) exitCode?: number | null;
  @Field(() => String, { description: 'UTF-8 (lossy).' }) stdout!: string;
  @Field(() => String, { description: 'UTF-8 (lossy).' }) stderr!: string;
  @Field(() => String) stdoutBase64!: string;
  @Field(() => String) stderrBase64!: string;
  @Field(() => Boolean) stdoutTruncated!: boolean;
  @Field(() => Boolean) stderrTruncated!: boolean;
  @Field(() => Trap, { nullable: true }) trap?: Trap | null;
  @Field(() => String, { nullable: true }) error?: string | null;
  @Field(() => Float) compileMs!: number;
  @Field(() => Float) runMs!: number;
  @Field(() => BigIntScalar, { nullable: true }) fuelUsed?: bigint | null;
  @Field(() => Float) memoryPeakBytes!: number;
  @Field(() => [FileInfo], { description: 'Files the guest wrote.' }) files!: FileInfo[];
  @Field(() => DateTimeScalar) startedAt!: Date;
  @Field(() => DateTimeScalar) finishedAt!: Date;
  @Field(() => Boolean, {
    description:
      'A late result: the node that ran this attempt had lost the task (its lease was taken over) when it reported. ' +
      'Kept for the record beside the attempt of the same number that replaced it; it changed nothing.',
  })
  stale!: boolean;
}

@ObjectType('Task')
export class Task {
  @Field(() => ID) id!: string;
  @Field(() => TaskStatusEnum) status!: TaskStatus;
  @Field(() => Int, { description: 'Higher runs first.' }) priority!: number;
  // agent, agentVersion: field resolvers (batched per request).
  @Field(() => [String]) args!: string[];
  @Field(() => JSONScalar, { description: 'Environment variables, an object of strings.' }) env!: Record<string, string>;
  // stdin, stdinBase64, inputFiles: field resolvers.
  @Field(() => LimitsType) limits!: LimitsType;
  @Field(() => RetryPolicyType) retryPolicy!: RetryPolicyType;
  @Field(() => String, { nullable: true }) idempotencyKey?: string | null;
  @Field(() => Int, { description: 'Attempts started so far.' }) attempts!: number;
  @Field(() => DateTimeScalar, { description: 'Not before this time (delay, or the next retry).' }) runAt!: Date;
  // argv0, mounts: field resolvers (the `wasi` column, defaults filled in).
  // outcome, stdout, stderr, stdoutBase64, stderrBase64, trap, error, outputFiles, attemptList, queueMs, durationMs: field resolvers.
  @Field(() => Int, { nullable: true, description: 'Exit code of the last attempt.' }) exitCode?: number | null;
  @Field(() => DateTimeScalar) createdAt!: Date;
  @Field(() => DateTimeScalar) updatedAt!: Date;
  @Field(() => DateTimeScalar, { nullable: true }) startedAt?: Date | null;
  @Field(() => DateTimeScalar, { nullable: true }) finishedAt?: Date | null;
}

@ObjectType('PageInfo')
export class PageInfo {
  @Field(() => Boolean) hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor?: string | null;
}

@ObjectType('TaskEdge')
export class TaskEdge {
  @Field(() => String) cursor!: string;
  @Field(() => Task) node!: unknown;
}

@ObjectType('TaskConnection')
export class TaskConnection {
  @Field(() => [TaskEdge]) edges!: TaskEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  // totalCount, totalCountExact: field resolvers, so the count runs only when one is asked for (once for both).
  /** Counts the tasks matching this connection's filter (bounded: exact up to COUNT_EXACT_MAX); not a GraphQL field. */
  count!: () => Promise<TaskCount>;
}

@ObjectType('BulkResult', { description: 'What cancelTasks, retryTasks or deleteTasks did.' })
export class BulkResultType {
  @Field(() => Int, { description: 'Tasks selected: the distinct ids given, or the tasks matching the filter that the action applies to, up to BULK_MAX.' })
  matched!: number;
  @Field(() => Int, { description: 'Tasks the action changed.' })
  done!: number;
  @Field(() => Int, { description: 'Tasks selected but not changed: in a state the action does not apply to, gone meanwhile, or no task of the tenant.' })
  skipped!: number;
  @Field(() => Int, { description: 'Tasks matching the filter beyond BULK_MAX, left for the next call (0 for ids).' })
  remaining!: number;
}
