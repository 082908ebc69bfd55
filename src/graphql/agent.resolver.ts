import 'reflect-metadata';
import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, FieldResolver, ID, Info, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { badInput, TASK_STATUSES } from '../domain/index.js';
import type { AgentRow, AgentVersionRow } from '../services/types.js';
import { AgentStats } from './agent-stats.type.js';
import { RegisterAgentInput } from './agent.input.js';
import { Agent, AgentVersion } from './agent.type.js';
import type { Context } from './context.js';
import { LimitsType } from './limits.type.js';

@Resolver(() => Agent)
export class AgentResolver {
  @Query(() => [Agent], { description: 'Agents of the caller, by name.' })
  agents(@Ctx() ctx: Context): Promise<AgentRow[]> {
    return ctx.services.agents.list(ctx.caller);
  }

  @Query(() => Agent, { nullable: true, description: 'One agent by id or by name (exactly one of them).' })
  agent(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { nullable: true }) id?: string | null,
    @Arg('name', () => String, { nullable: true }) name?: string | null,
  ): Promise<AgentRow | null> {
    return ctx.services.agents.get(ctx.caller, { id, name });
  }

  @Mutation(() => Agent, {
    description:
      'Registers an agent, or a new version of an existing one (same name). The same registration again (the same module bytes and ' +
      'defaultLimits, and no description or the agent\'s current one) adds no version: the agent comes back with its latest version. ' +
      'Concurrent identical registrations add at most one version. A module whose declared initial memory exceeds MAX_MEMORY_BYTES, or ' +
      'whose tables declare more initial elements than MAX_TABLE_ELEMENTS, is refused (LIMIT_EXCEEDED naming the limit).',
  })
  async registerAgent(@Ctx() ctx: Context, @Arg('input', () => RegisterAgentInput) input: RegisterAgentInput): Promise<AgentRow> {
    const { agent } = await ctx.services.agents.register(ctx.caller, input, 'input');
    return agent;
  }

  @Mutation(() => Boolean, { description: 'Deletes an agent (by id or name); its tasks and versions stay readable. False when it did not exist.' })
  deleteAgent(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<boolean> {
    return ctx.services.agents.delete(ctx.caller, id);
  }

  @Mutation(() => Agent, { description: 'Pauses an agent (by id or name): its tasks are not claimed until resumeAgent; submits still queue them. Tasks already running go on.' })
  pauseAgent(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<AgentRow> {
    return ctx.services.agents.pause(ctx.caller, id);
  }

  @Mutation(() => Agent, { description: 'Resumes a paused agent (by id or name): its queued tasks are claimed again.' })
  resumeAgent(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<AgentRow> {
    return ctx.services.agents.resume(ctx.caller, id);
  }

  @Mutation(() => Agent, {
    description:
      'Sets an agent\'s concurrency limit (by id or name): at most `limit` (1-10000) of its tasks held at once, claimed or RUNNING, ' +
      'across the cluster; null removes it. Tasks past the limit wait in the queue; lowering it stops none that run.',
  })
  setAgentConcurrency(
    @Ctx() ctx: Context,
    @Arg('id', () => ID) id: string,
    @Arg('limit', () => Int, { nullable: true }) limit: number | null,
  ): Promise<AgentRow> {
    return ctx.services.agents.setConcurrencyLimit(ctx.caller, id, limit ?? null);
  }

  @FieldResolver(() => AgentStats, { description: 'Figures over the tasks created in the last `windowSeconds` (60 to 604800, a week). One agent at a time: refused inside a list (`agents`).' })
  async stats(
    @Root() agent: AgentRow,
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
    @Arg('windowSeconds', () => Int, { defaultValue: 3600 }) windowSeconds: number,
  ): Promise<AgentStats> {
    // One agent's at a time: the cost limit prices it once, and in `agents` it would run once per agent.
    if (typeof info.path.prev?.key === 'number') throw badInput('stats', 'is read one agent at a time: ask agent(id|name) { stats }, not agents { stats }');
    const s = await ctx.services.agents.stats(ctx.caller, agent, windowSeconds);
    return { ...s, byStatus: TASK_STATUSES.map((status) => ({ status, count: s.byStatus[status] })) };
  }

  @FieldResolver(() => AgentVersion, { nullable: true, description: 'The given version, or the latest when omitted.' })
  version(@Root() agent: AgentRow, @Ctx() ctx: Context, @Arg('version', () => Int, { nullable: true }) version?: number | null): Promise<AgentVersionRow | null> {
    return ctx.services.agents.version(ctx.caller, agent, version ?? undefined);
  }

  @FieldResolver(() => [AgentVersion], { description: 'All versions, oldest first.' })
  versions(@Root() agent: AgentRow, @Ctx() ctx: Context): Promise<AgentVersionRow[]> {
    return ctx.services.agents.versions(ctx.caller, agent);
  }
}

@Resolver(() => AgentVersion)
export class AgentVersionResolver {
  @FieldResolver(() => LimitsType)
  defaultLimits(@Root() version: AgentVersionRow, @Ctx() ctx: Context): LimitsType {
    return ctx.services.agents.defaultLimits(version);
  }
}
