/**
 * The operations the CLI sends (and any other caller may): typed against schema/schema.graphql,
 * so `npm run typecheck` fails when one asks for what the API no longer has.
 */
import { graphql } from './graphql.js';

export const Me = graphql(`
  query Me {
    me { tenant { id name } role }
  }
`);

export const Agents = graphql(`
  query Agents {
    agents { id name description latestVersion createdAt updatedAt }
  }
`);

export const RegisterAgent = graphql(`
  mutation RegisterAgent($input: RegisterAgentInput!) {
    registerAgent(input: $input) { id name description latestVersion createdAt updatedAt }
  }
`);

export const SubmitTask = graphql(`
  mutation SubmitTask($input: SubmitTaskInput!) {
    submitTask(input: $input) { id status createdAt agent { name } }
  }
`);

export const Task = graphql(`
  query Task($id: ID!) {
    task(id: $id) {
      id status priority args createdAt runAt startedAt finishedAt queueMs durationMs
      attempts attemptsSinceRetry exitCode outcome error stdout stderr
      agent { name } agentVersion { version }
      limits { timeoutMs memoryBytes maxOutputBytes fuel }
      outputFiles { path size }
      attemptList { n node outcome exitCode runMs fuelUsed memoryPeakBytes startedAt finishedAt error stale }
    }
  }
`);

export const Tasks = graphql(`
  query Tasks($filter: TaskFilter, $first: Int, $after: String) {
    tasks(filter: $filter, first: $first, after: $after) {
      edges { node { id status createdAt durationMs exitCode outcome attempts agent { name } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const CancelTask = graphql(`
  mutation CancelTask($id: ID!) {
    cancelTask(id: $id) { id status }
  }
`);

export const RetryTask = graphql(`
  mutation RetryTask($id: ID!) {
    retryTask(id: $id) { id status }
  }
`);

export const TaskOutput = graphql(`
  subscription TaskOutput($id: ID!) {
    taskOutput(id: $id) { attempt stream base64 }
  }
`);

export const TaskUpdated = graphql(`
  subscription TaskUpdated($id: ID!) {
    taskUpdated(id: $id) { taskId status attempt exitCode outcome at }
  }
`);

export const TaskEvents = graphql(`
  subscription TaskEvents($filter: TaskEventFilter) {
    taskEvents(filter: $filter) { taskId status attempt exitCode outcome at task { agent { name } } }
  }
`);
