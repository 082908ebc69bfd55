import type { OutcomeKind } from './outcome.js';

export const TASK_STATUSES = ['QUEUED', 'RUNNING', 'RETRYING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/**
 * The statuses in which a task's outcome (and exit code) mean something: an ended task's end
 * (`cancelled` for every CANCELLED one), a RETRYING task's failed attempt. A QUEUED or RUNNING
 * task still carries its previous end (before a retry), which says nothing about the run to come.
 */
export const SETTLED_STATUSES: ReadonlySet<TaskStatus> = new Set(['RETRYING', ...TERMINAL_STATUSES]);

export type { OutcomeKind };

/** What cancelTasks, retryTasks and deleteTasks do. */
export type BulkAction = 'cancel' | 'retry' | 'delete';

/**
 * The statuses each bulk action applies to (a task in another one is skipped): cancel stops what
 * has not ended, retry queues again what failed or was cancelled, delete takes only ended tasks.
 */
export const BULK_ACTION_STATUSES: Readonly<Record<BulkAction, readonly TaskStatus[]>> = {
  cancel: ['QUEUED', 'RETRYING', 'RUNNING'],
  retry: ['FAILED', 'CANCELLED'],
  delete: ['SUCCEEDED', 'FAILED', 'CANCELLED'],
};
