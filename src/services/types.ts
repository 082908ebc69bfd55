/**
 * The vocabulary the services speak to their transports: the rows they return (the store's plain
 * row types) and the live events of the pub/sub (the executor's). Re-exported here so that graphql/
 * and server/ reach the layers below only through services/ (the dependency rule, npm run lint).
 */
export type { AgentBuildRow, AgentRow, AgentVersionRow, ApiKeyRow, TaskAttemptRow, TaskCount, TaskCursor, TaskOrder, TaskOrderField, TaskRow, TenantRow } from '../store/index.js';
export { cursorValue, DEFAULT_TASK_ORDER, TASK_ORDER_FIELDS } from '../store/index.js';
export type { BusPubSub, TaskEvent, TaskOutputEvent, Topics } from '../executor/types.js';
/** The event announcing a task's current state (the one the executor publishes after each write). */
export { taskEvent } from '../executor/results.js';
