// Every GraphQL document the dashboard sends, against docs/api-contract.graphql.

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

const EVENT = 'taskId status attempt outcome exitCode agentId at';
export const ROW = 'id status priority attempts agent { id name } agentVersion { version } outcome exitCode createdAt updatedAt startedAt finishedAt durationMs';
const STATS = `byStatus { status count exact } queueDepth running throughputPerSec throughputSeries
  latencyP50Ms latencyP95Ms latencyP99Ms workers busyWorkers utilisation at`;
const LIMITS = 'timeoutMs memoryBytes fuel maxOutputBytes';

export const STATS_QUERY = `query Stats { stats { ${STATS} } }`;
export const STATS_SUB = `subscription Stats { stats { ${STATS} } }`;

/** A task list's order (TaskOrder); DESC of CREATED_AT is the API's default. */
export type SortField = 'CREATED_AT' | 'FINISHED_AT' | 'DURATION' | 'PRIORITY';
export interface TaskOrder { field: SortField; direction: 'ASC' | 'DESC' }
export const DEFAULT_ORDER: TaskOrder = { field: 'CREATED_AT', direction: 'DESC' };

export const TASKS_QUERY = `query Tasks($filter: TaskFilter, $first: Int, $after: String, $orderBy: TaskOrder) {
  tasks(filter: $filter, first: $first, after: $after, orderBy: $orderBy) {
    totalCount totalCountExact pageInfo { hasNextPage endCursor } edges { node { ${ROW} } }
  }
}`;
export const TASK_EVENTS_SUB = `subscription TaskEvents($filter: TaskEventFilter) { taskEvents(filter: $filter) { ${EVENT} } }`;

export const TASK_QUERY = `query Task($id: ID!) { task(id: $id) {
  ${ROW} args env stdin runAt idempotencyKey queueMs attemptsSinceRetry
  agentVersion { version moduleDigest }
  inputFiles { path size }
  limits { ${LIMITS} }
  retryPolicy { maxAttempts initialBackoffMs maxBackoffMs retryOn }
  stdout stderr outputFiles { path size text base64 }
  attemptList { n node outcome exitCode stdout stderr stdoutTruncated stderrTruncated trap { code message } error
    compileMs runMs fuelUsed memoryPeakBytes files { path size } startedAt finishedAt stale }
} }`;
/** Input files' starts as text, read once per task page (they never change). */
export const INPUT_PREVIEWS_QUERY = `query InputPreviews($id: ID!) { task(id: $id) { id inputFilePreviews { path size kind text truncated binary } } }`;
export interface FilePreview { path: string; size: number; kind: 'file' | 'dir' | 'symlink'; text: string | null; truncated: boolean; binary: boolean }
export const TASK_UPDATED_SUB = `subscription TaskUpdated($id: ID!) { taskUpdated(id: $id) { ${EVENT} } }`;
export const TASK_OUTPUT_SUB = `subscription TaskOutput($id: ID!) { taskOutput(id: $id) { taskId attempt stream data } }`;
export const CANCEL_TASK = `mutation Cancel($id: ID!) { cancelTask(id: $id) { ${ROW} } }`;
export const RETRY_TASK = `mutation Retry($id: ID!) { retryTask(id: $id) { ${ROW} } }`;

/** What a bulk action did (BulkResult). */
export interface BulkResult { matched: number; done: number; skipped: number; remaining: number }
export type BulkAction = 'cancelTasks' | 'retryTasks' | 'deleteTasks';
/** A bulk action on ids or on every task matching a filter. */
export const bulkMutation = (action: BulkAction) =>
  `mutation Bulk($ids: [ID!], $filter: TaskFilter) { ${action}(ids: $ids, filter: $filter) { matched done skipped remaining } }`;
export const DELETE_AGENT = `mutation DeleteAgent($id: ID!) { deleteAgent(id: $id) }`;

export const AGENTS_QUERY = `query Agents { agents {
  id name description latestVersion createdAt updatedAt paused concurrencyLimit
  versions { id version moduleDigest moduleSize createdAt exports { name kind } defaultLimits { ${LIMITS} } }
} }`;
export const REGISTER_AGENT = `mutation Register($input: RegisterAgentInput!) {
  registerAgent(input: $input) { id name latestVersion }
}`;
export const BUILD_AGENT = `mutation Build($input: RegisterAgentInput!) { buildAgent(input: $input) { id status } }`;
export const BUILD_UPDATED = `subscription BuildUpdated($id: ID!) {
  buildUpdated(id: $id) { id status error cached agentVersion log diagnostics { severity code message file line column } agent { name } }
}`;

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
const CONTROLS = 'id name paused concurrencyLimit';
export const PAUSE_AGENT = `mutation Pause($id: ID!) { pauseAgent(id: $id) { ${CONTROLS} } }`;
export const RESUME_AGENT = `mutation Resume($id: ID!) { resumeAgent(id: $id) { ${CONTROLS} } }`;
export const SET_AGENT_CONCURRENCY = `mutation SetConcurrency($id: ID!, $limit: Int) { setAgentConcurrency(id: $id, limit: $limit) { ${CONTROLS} } }`;

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
export const AGENT_QUERY = `query Agent($name: String!, $window: Int) { agent(name: $name) {
  id name description latestVersion createdAt updatedAt paused concurrencyLimit
  stats(windowSeconds: $window) { windowSeconds since tasks truncated byStatus { status count } successRate attempts runMsP50 runMsP95 runMsP99 }
} }`;

export const SUBMIT_TASKS = `mutation Submit($inputs: [SubmitTaskInput!]!) { submitTasks(inputs: $inputs) { ${ROW} } }`;

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
