/** Agent and AgentVersion as the API shows them; resolvers return store rows (AgentRow, AgentVersionRow). */
import 'reflect-metadata';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { LimitsType } from './limits.type.js';
import { DateTimeScalar } from './scalars.js';

@ObjectType('ModuleImport')
export class ModuleImport {
  @Field(() => String) module!: string;
  @Field(() => String) name!: string;
  @Field(() => String) kind!: string;
}

@ObjectType('ModuleExport')
export class ModuleExport {
  @Field(() => String) name!: string;
  @Field(() => String) kind!: string;
}

@ObjectType('AgentVersion')
export class AgentVersion {
  @Field(() => ID) id!: string;
  @Field(() => Int) version!: number;
  @Field(() => String, { description: 'sha256 (hex) of the module bytes.' }) moduleDigest!: string;
  @Field(() => Int) moduleSize!: number;
  @Field(() => [ModuleImport]) imports!: ModuleImport[];
  @Field(() => [ModuleExport]) exports!: ModuleExport[];
  @Field(() => Int, { nullable: true }) memoryInitialPages?: number | null;
  @Field(() => Int, { nullable: true }) memoryMaximumPages?: number | null;
  @Field(() => LimitsType, { description: 'Limits a task of this version gets unless it sets its own (server defaults filled in).' })
  defaultLimits!: LimitsType;
  @Field(() => DateTimeScalar) createdAt!: Date;
}

@ObjectType('Agent')
export class Agent {
  @Field(() => ID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => Int) latestVersion!: number;
  @Field(() => DateTimeScalar) createdAt!: Date;
  @Field(() => DateTimeScalar) updatedAt!: Date;
  @Field(() => Boolean, { description: 'A paused agent\'s tasks are not claimed; submits still queue them (pauseAgent, resumeAgent).' })
  paused!: boolean;
  @Field(() => Int, {
    nullable: true,
    description: 'At most this many of its tasks held at once (claimed or RUNNING), across the cluster; null = no limit (setAgentConcurrency).',
  })
  concurrencyLimit?: number | null;
  // version(version), versions and stats(windowSeconds) are field resolvers in agent.resolver.ts.
}
