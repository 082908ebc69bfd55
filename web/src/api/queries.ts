// Every GraphQL document the dashboard sends, written with the typed client's tag (src/client):
// each is checked against schema/schema.graphql when the dashboard is type-checked, and the
// `Fits` lines below check that what each returns is what the views' types say.
import { graphql, type ResultOf } from '../../../src/client/graphql.js';

export type TaskStatus = 'QUEUED' | 'RUNNING' | 'RETRYING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
export const STATUSES: TaskStatus[] = ['QUEUED', 'RUNNING', 'RETRYING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];
export const ACTIVE: TaskStatus[] = ['QUEUED', 'RUNNING', 'RETRYING'];
export const RETRY_ON = ['timeout', 'host_error', 'trap', 'nonzero_exit', 'fuel_exhausted', 'memory_limit', 'output_limit'];

export interface Limits { timeoutMs: number; memoryBytes: number; fuel: string | null; maxOutputBytes: number }
export interface TaskEvent {
  taskId: string; status: TaskStatus; attempt: number;
  outcome: string | null; exitCode: number | null; agentId: string; at: string;
}
export interface TaskRow {
  id: string; status: TaskStatus; priority: number; attempts: number;
  agent: { id: string; name: string }; agentVersion: { version: number };
  outcome: string | null; exitCode: number | null;
  createdAt: string; updatedAt: string; startedAt: string | null; finishedAt: string | null; durationMs: number | null;
}
export interface Stats {
  /** exact false: count is the server's estimate (more than COUNT_EXACT_MAX). */
  byStatus: { status: TaskStatus; count: number; exact: boolean }[];
  queueDepth: number; running: number; throughputPerSec: number; throughputSeries: number[];
  latencyP50Ms: number | null; latencyP95Ms: number | null; latencyP99Ms: number | null;
  workers: number; busyWorkers: number; utilisation: number; at: string;
}

/** `A` can stand where `B` is expected: a document's result against the view's type (compile time only). */
type Fits<A extends B, B> = A;

const EVENT = graphql(`fragment Event on TaskEvent { taskId status attempt outcome exitCode agentId at }`);
/** A task row's fields (Submitted.tsx also spreads it into the query it builds). */
export const ROW = graphql(`fragment Row on Task {
  id status priority attempts agent { id name } agentVersion { version } outcome exitCode createdAt updatedAt startedAt finishedAt durationMs
}`);
const STATS = graphql(`fragment StatsFields on Stats {
  byStatus { status count exact } queueDepth running throughputPerSec throughputSeries
  latencyP50Ms latencyP95Ms latencyP99Ms workers busyWorkers utilisation at
}`);
const LIMITS = graphql(`fragment LimitsFields on Limits { timeoutMs memoryBytes fuel maxOutputBytes }`);

export const STATS_QUERY = graphql(`query Stats { stats { ...StatsFields } }`, [STATS]);
export const STATS_SUB = graphql(`subscription StatsLive { stats { ...StatsFields } }`, [STATS]);

/** A task list's order (TaskOrder); DESC of CREATED_AT is the API's default. */
export type SortField = 'CREATED_AT' | 'FINISHED_AT' | 'DURATION' | 'PRIORITY';
export interface TaskOrder { field: SortField; direction: 'ASC' | 'DESC' }
export const DEFAULT_ORDER: TaskOrder = { field: 'CREATED_AT', direction: 'DESC' };

export const TASKS_QUERY = graphql(`query Tasks($filter: TaskFilter, $first: Int, $after: String, $orderBy: TaskOrder) {
  tasks(filter: $filter, first: $first, after: $after, orderBy: $orderBy) {
    totalCount totalCountExact pageInfo { hasNextPage endCursor } edges { node { ...Row } }
  }
}`, [ROW]);
export const TASK_EVENTS_SUB = graphql(`subscription TaskEvents($filter: TaskEventFilter) { taskEvents(filter: $filter) { ...Event } }`, [EVENT]);

export const TASK_QUERY = graphql(`query Task($id: ID!) { task(id: $id) {
  ...Row args env stdin runAt idempotencyKey queueMs attemptsSinceRetry
  agentVersion { version moduleDigest }
  inputFiles { path size }
  limits { ...LimitsFields }
  retryPolicy { maxAttempts initialBackoffMs maxBackoffMs retryOn }
  stdout stderr outputFiles { path size text base64 }
  attemptList { n node outcome exitCode stdout stderr stdoutTruncated stderrTruncated trap { code message } error
    compileMs runMs fuelUsed memoryPeakBytes files { path size } startedAt finishedAt stale }
} }`, [ROW, LIMITS]);
/** Input files' starts as text, read once per task page (they never change). */
export const INPUT_PREVIEWS_QUERY = graphql(`query InputPreviews($id: ID!) { task(id: $id) { id inputFilePreviews { path size kind text truncated binary } } }`);
export interface FilePreview { path: string; size: number; kind: 'file' | 'dir' | 'symlink'; text: string | null; truncated: boolean; binary: boolean }
export const TASK_UPDATED_SUB = graphql(`subscription TaskUpdated($id: ID!) { taskUpdated(id: $id) { ...Event } }`, [EVENT]);
export const TASK_OUTPUT_SUB = graphql(`subscription TaskOutput($id: ID!) { taskOutput(id: $id) { taskId attempt stream data } }`);
export const CANCEL_TASK = graphql(`mutation Cancel($id: ID!) { cancelTask(id: $id) { ...Row } }`, [ROW]);
export const RETRY_TASK = graphql(`mutation Retry($id: ID!) { retryTask(id: $id) { ...Row } }`, [ROW]);

/** What a bulk action did (BulkResult). */
export interface BulkResult { matched: number; done: number; skipped: number; remaining: number }
export type BulkAction = 'cancelTasks' | 'retryTasks' | 'deleteTasks';
const BULK = {
  cancelTasks: graphql(`mutation BulkCancel($ids: [ID!], $filter: TaskFilter) { cancelTasks(ids: $ids, filter: $filter) { matched done skipped remaining } }`),
  retryTasks: graphql(`mutation BulkRetry($ids: [ID!], $filter: TaskFilter) { retryTasks(ids: $ids, filter: $filter) { matched done skipped remaining } }`),
  deleteTasks: graphql(`mutation BulkDelete($ids: [ID!], $filter: TaskFilter) { deleteTasks(ids: $ids, filter: $filter) { matched done skipped remaining } }`),
};
/** A bulk action on ids or on every task matching a filter. */
export const bulkMutation = (action: BulkAction) => BULK[action];
export const DELETE_AGENT = graphql(`mutation DeleteAgent($id: ID!) { deleteAgent(id: $id) }`);

export const AGENTS_QUERY = graphql(`query Agents { agents {
  id name description latestVersion createdAt updatedAt paused concurrencyLimit
  versions { id version moduleDigest moduleSize createdAt exports { name kind } defaultLimits { ...LimitsFields } }
} }`, [LIMITS]);
export const REGISTER_AGENT = graphql(`mutation Register($input: RegisterAgentInput!) {
  registerAgent(input: $input) { id name latestVersion }
}`);
export const BUILD_AGENT = graphql(`mutation Build($input: RegisterAgentInput!) { buildAgent(input: $input) { id status } }`);
export const BUILD_UPDATED = graphql(`subscription BuildUpdated($id: ID!) {
  buildUpdated(id: $id) { id status error cached agentVersion log diagnostics { severity code message file line column } agent { name } }
}`);

export interface BuildState {
  id: string;
  status: 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  error: string | null;
  cached: boolean;
  agentVersion: number | null;
  log: string;
  diagnostics: { severity: string; code: string; message: string; file: string | null; line: number | null; column: number | null }[];
  agent: { name: string } | null;
}
const CONTROLS = graphql(`fragment Controls on Agent { id name paused concurrencyLimit }`);
export const PAUSE_AGENT = graphql(`mutation Pause($id: ID!) { pauseAgent(id: $id) { ...Controls } }`, [CONTROLS]);
export const RESUME_AGENT = graphql(`mutation Resume($id: ID!) { resumeAgent(id: $id) { ...Controls } }`, [CONTROLS]);
export const SET_AGENT_CONCURRENCY = graphql(`mutation SetConcurrency($id: ID!, $limit: Int) { setAgentConcurrency(id: $id, limit: $limit) { ...Controls } }`, [CONTROLS]);

/** Agent.stats(windowSeconds). */
export interface AgentStats {
  windowSeconds: number; since: string; tasks: number; truncated: boolean;
  byStatus: { status: TaskStatus; count: number }[];
  successRate: number | null; attempts: number;
  runMsP50: number | null; runMsP95: number | null; runMsP99: number | null;
}
export interface AgentDetail extends AgentControlsState {
  description: string | null; latestVersion: number; createdAt: string; updatedAt: string; stats: AgentStats;
}
export const AGENT_QUERY = graphql(`query Agent($name: String!, $window: Int) { agent(name: $name) {
  id name description latestVersion createdAt updatedAt paused concurrencyLimit
  stats(windowSeconds: $window) { windowSeconds since tasks truncated byStatus { status count } successRate attempts runMsP50 runMsP95 runMsP99 }
} }`);

export const SUBMIT_TASKS = graphql(`mutation Submit($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { ...Row } }`, [ROW]);

export interface TaskDetail extends TaskRow {
  args: string[]; env: Record<string, string>; stdin: string; runAt: string; idempotencyKey: string | null;
  queueMs: number | null;
  /** Attempts counted against retryPolicy.maxAttempts (since the last manual retry). */
  attemptsSinceRetry: number;
  agentVersion: { version: number; moduleDigest: string };
  inputFiles: { path: string; size: number }[];
  limits: Limits;
  retryPolicy: { maxAttempts: number; initialBackoffMs: number; maxBackoffMs: number; retryOn: string[] };
  stdout: string | null; stderr: string | null;
  outputFiles: { path: string; size: number; text: string | null; base64: string }[];
  attemptList: Attempt[];
}
export interface Attempt {
  n: number; node: string; outcome: string; exitCode: number | null;
  stdout: string; stderr: string; stdoutTruncated: boolean; stderrTruncated: boolean;
  trap: { code: string; message: string } | null; error: string | null;
  compileMs: number; runMs: number; fuelUsed: string | null; memoryPeakBytes: number;
  files: { path: string; size: number }[]; startedAt: string; finishedAt: string;
  /** A late result of a node that had lost the task; not the task's result. */
  stale: boolean;
}
/** What the user controls of an agent: pause and the concurrency limit (null = none). */
export interface AgentControlsState { id: string; name: string; paused: boolean; concurrencyLimit: number | null }
export interface AgentInfo extends AgentControlsState {
  description: string | null; latestVersion: number; createdAt: string; updatedAt: string;
  versions: { id: string; version: number; moduleDigest: string; moduleSize: number; createdAt: string;
    exports: { name: string; kind: string }[]; defaultLimits: Limits }[];
}

/** Folds an event into a row: what the event knows, it says first. */
export function applyEvent<T extends TaskRow>(row: T, e: TaskEvent): T {
  // A late event must not roll back a fresher re-query.
  if (Date.parse(e.at) < Date.parse(row.updatedAt)) return row;
  const terminal = !ACTIVE.includes(e.status);
  const attempts = Math.max(row.attempts, e.attempt);
  // A detail row's budget count moves with its attempts (a manual retry re-queries the row).
  const since = (row as { attemptsSinceRetry?: number }).attemptsSinceRetry;
  return {
    ...row,
    ...(since !== undefined ? { attemptsSinceRetry: since + attempts - row.attempts } : {}),
    status: e.status,
    updatedAt: e.at,
    attempts,
    outcome: e.outcome ?? (terminal ? row.outcome : null),
    exitCode: e.exitCode ?? (terminal ? row.exitCode : null),
    startedAt: row.startedAt ?? (e.status === 'RUNNING' ? e.at : null),
    finishedAt: terminal ? (row.finishedAt ?? e.at) : null,
    durationMs: terminal ? (row.durationMs ?? Date.parse(e.at) - Date.parse(row.createdAt)) : null,
  };
}

// What each document returns fits the type the views hold it in (a field dropped from a document,
// or a type changed in the schema, fails the dashboard's type-check here).
export type Checked = [
  Fits<ResultOf<typeof ROW>, TaskRow>,
  Fits<ResultOf<typeof EVENT>, TaskEvent>,
  Fits<ResultOf<typeof STATS>, Stats>,
  Fits<NonNullable<ResultOf<typeof TASK_QUERY>['task']>, Omit<TaskDetail, 'env'>>,
  Fits<ResultOf<typeof AGENTS_QUERY>['agents'][number], AgentInfo>,
  Fits<NonNullable<ResultOf<typeof AGENT_QUERY>['agent']>, AgentDetail>,
  Fits<ResultOf<typeof BUILD_UPDATED>['buildUpdated'], BuildState>,
  Fits<ResultOf<typeof PAUSE_AGENT>['pauseAgent'], AgentControlsState>,
  Fits<NonNullable<ResultOf<typeof INPUT_PREVIEWS_QUERY>['task']>['inputFilePreviews'][number], FilePreview>,
  Fits<ResultOf<(typeof BULK)['cancelTasks']>['cancelTasks'], BulkResult>,
];
