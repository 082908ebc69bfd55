import 'reflect-metadata';
import { Extensions, Field, Float, ID, InputType, Int } from 'type-graphql';
import type { TaskStatus } from '../domain/index.js';
import { MAX_SEARCH, MIN_SEARCH, type FileParams, type MountParams, type SubmitTaskParams, type TaskEventFilterParams, type TaskFilterParams } from '../services/index.js';
import { BECOMES_BYTES } from './args.guard.js';
import { LimitsInput, RetryPolicyInput } from './limits.input.js';
import { DateTimeScalar, JSONScalar } from './scalars.js';
import { SortDirectionEnum, TaskOrderFieldEnum, TaskStatusEnum } from './task.type.js';

@InputType('FileInput', {
  description: 'An input entry inside one of the task\'s mounts: a file (exactly one of base64 and text), an empty directory (a path ending in "/", no content) or a symlink (symlinkTarget, no content).',
})
export class FileInput implements FileParams {
  @Field(() => String, { description: 'Absolute ("/in/a.txt"; a relative path is taken from "/"), strictly inside a mount; no "..", no empty segments. Returned absolute.' })
  path!: string;
  @Field(() => String, { nullable: true }) base64?: string | null;
  @Field(() => String, { nullable: true, description: 'The file as UTF-8 text (NUL allowed: it is a byte of the file).' })
  @Extensions(BECOMES_BYTES)
  text?: string | null;
  @Field(() => String, { nullable: true, description: 'Makes the entry a symlink to this relative path (it cannot lead out of its mount).' })
  symlinkTarget?: string | null;
}

@InputType('MountInput', { description: 'A preopened directory of the task\'s filesystem (fd 3, 4, … in the order given).' })
export class MountInput implements MountParams {
  @Field(() => String, { description: 'Absolute, at most 255 characters; mounts may not nest.' }) path!: string;
  @Field(() => Boolean, { nullable: true, description: 'The guest may read but not create, change, move or remove anything in it; its files are not returned (default false).' })
  readOnly?: boolean | null;
}

@InputType('DeterministicInput', { description: 'Seeded random_get and a fixed clock start, for reproducible runs.' })
export class DeterministicInput {
  @Field(() => Int) seed!: number;
  @Field(() => Float, { nullable: true, description: 'What the realtime clock reads first, ms since the Unix epoch (default 0).' })
  epochMs?: number | null;
}

@InputType('SubmitTaskInput')
export class SubmitTaskInput implements SubmitTaskParams {
  @Field(() => String, { description: 'Agent id or name.' }) agent!: string;
  @Field(() => Int, { nullable: true, description: 'Agent version; latest when omitted.' }) version?: number | null;
  @Field(() => [String], { nullable: true }) args?: string[] | null;
  @Field(() => JSONScalar, { nullable: true, description: 'An object of string values.' }) env?: unknown;
  @Field(() => String, { nullable: true, description: 'stdin as UTF-8 text (NUL allowed: it is a byte of the input); or use stdinBase64.' })
  @Extensions(BECOMES_BYTES)
  stdin?: string | null;
  @Field(() => String, { nullable: true }) stdinBase64?: string | null;
  @Field(() => [FileInput], { nullable: true }) files?: FileInput[] | null;
  @Field(() => LimitsInput, { nullable: true }) limits?: LimitsInput | null;
  @Field(() => RetryPolicyInput, { nullable: true }) retryPolicy?: RetryPolicyInput | null;
  @Field(() => Int, { nullable: true, description: 'Higher runs first (default 0).' }) priority?: number | null;
  @Field(() => DateTimeScalar, { nullable: true, description: 'Run not before this time (at most 365 days ahead; a past time means now).' }) runAt?: Date | null;
  @Field(() => String, { nullable: true, description: 'Resubmitting with the same key returns the existing task. 1-255 characters, compared exactly (no normalisation).' })
  idempotencyKey?: string | null;
  @Field(() => DeterministicInput, { nullable: true }) deterministic?: DeterministicInput | null;
  @Field(() => String, { nullable: true, description: 'argv[0] as the guest sees it, 1-1024 bytes (default: the agent\'s name).' })
  argv0?: string | null;
  @Field(() => [MountInput], {
    nullable: true,
    description: 'Preopened directories, at most 16 (default: "/" alone, writable; [] for none). Output files come from the writable mounts.',
  })
  mounts?: MountInput[] | null;
}

@InputType('TaskFilter')
export class TaskFilterInput implements TaskFilterParams {
  @Field(() => [TaskStatusEnum], { nullable: true }) status?: TaskStatus[] | null;
  @Field(() => String, { nullable: true, description: 'Agent id or name.' }) agent?: string | null;
  @Field(() => DateTimeScalar, { nullable: true }) createdAfter?: Date | null;
  @Field(() => DateTimeScalar, { nullable: true }) createdBefore?: Date | null;
  @Field(() => String, {
    nullable: true,
    description:
      `Tasks whose agent name, args, stdin, or final stdout, stderr, trap message or error contain this text (case-insensitive; ` +
      `of stdin and each output only the first KiB or two are searched), whose id starts with it, or whose id's last group (the last 12 hex digits) contains it. ` +
      `${MIN_SEARCH}-${MAX_SEARCH} characters after trimming.`,
  })
  search?: string | null;
}

@InputType('TaskOrder', { description: 'The order of a task list; ties are broken by id in the same direction.' })
export class TaskOrderInput {
  @Field(() => TaskOrderFieldEnum) field!: TaskOrderFieldEnum;
  @Field(() => SortDirectionEnum, { defaultValue: 'DESC' }) direction!: SortDirectionEnum;
}

@InputType('TaskEventFilter')
export class TaskEventFilterInput implements TaskEventFilterParams {
  @Field(() => [TaskStatusEnum], { nullable: true }) status?: TaskStatus[] | null;
  @Field(() => String, { nullable: true, description: 'Agent id or name.' }) agent?: string | null;
  @Field(() => [ID], { nullable: true }) taskIds?: string[] | null;
}
