/** A build from source asked for with buildAgent, as the API shows it (resolvers return AgentBuildRow). */
import 'reflect-metadata';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { SourceLanguage } from './agent.input.js';
import { DateTimeScalar } from './scalars.js';

export enum BuildStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
}
registerEnumType(BuildStatus, {
  name: 'BuildStatus',
  description: 'QUEUED (recorded), RUNNING (building on a node), SUCCEEDED (the agent version is registered), FAILED (see error and diagnostics).',
});

@ObjectType('BuildDiagnostic', { description: "What the compiler said, and where: 1-based line and column in a file of the source (or of the compiler's library)." })
export class BuildDiagnostic {
  @Field(() => String, { description: 'error, warning or info.' }) severity!: string;
  @Field(() => String, { description: "The compiler's code, e.g. TS2322." }) code!: string;
  @Field(() => String) message!: string;
  @Field(() => String, { nullable: true }) file!: string | null;
  @Field(() => Int, { nullable: true }) line!: number | null;
  @Field(() => Int, { nullable: true }) column!: number | null;
}

@ObjectType('Build', { description: 'A build from source (buildAgent): followed with build(id) and buildUpdated(id).' })
export class Build {
  @Field(() => ID) id!: string;
  @Field(() => String, { description: 'The agent it registers (a new version when the name exists).' }) agentName!: string;
  @Field(() => SourceLanguage) language!: SourceLanguage;
  @Field(() => BuildStatus) status!: BuildStatus;
  @Field(() => String, { description: "The compiler's output (warnings, or why it failed)." }) log!: string;
  @Field(() => [BuildDiagnostic]) diagnostics!: BuildDiagnostic[];
  @Field(() => String, { nullable: true, description: 'Why it FAILED (BUILD_FAILED, a limit, the node stopping).' }) error!: string | null;
  @Field(() => Boolean, { description: 'The same source was built before: its module was reused.' }) cached!: boolean;
  @Field(() => Int, { nullable: true, description: 'The agent version it registered (SUCCEEDED).' }) agentVersion!: number | null;
  @Field(() => DateTimeScalar) createdAt!: Date;
  @Field(() => DateTimeScalar, { nullable: true }) startedAt!: Date | null;
  @Field(() => DateTimeScalar, { nullable: true }) finishedAt!: Date | null;
}
