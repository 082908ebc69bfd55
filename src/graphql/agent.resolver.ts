import 'reflect-metadata';
import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { badInput } from '../domain/index.js';
import type { AgentRow, AgentVersionRow } from '../store/types.js';
import { RegisterAgentInput } from './agent.input.js';
import { registerAgent } from './agent.service.js';
import { requireRole } from './auth.js';
import { Agent, AgentVersion } from './agent.type.js';
import type { Context } from './context.js';
import { checkId, findAgent } from './ids.js';
import { resolveLimits } from './limits.input.js';
import { LimitsType } from './limits.type.js';

@Resolver(() => Agent)
export class AgentResolver {
  @Query(() => [Agent], { description: 'Agents of the caller, by name.' })
  async agents(@Ctx() ctx: Context): Promise<AgentRow[]> {
    const rows = await ctx.deps.store.agents.list(ctx.tenantId);
    return [...rows].sort((a, b) => a.name.localeCompare(b.name));
  }

  @Query(() => Agent, { nullable: true, description: 'One agent by id or by name (exactly one of them).' })
  async agent(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { nullable: true }) id?: string | null,
    @Arg('name', () => String, { nullable: true }) name?: string | null,
  ): Promise<AgentRow | null> {
    if ((id == null) === (name == null)) throw badInput('id', 'exactly one of id and name must be given');
    if (id != null) return ctx.deps.store.agents.get(ctx.tenantId, checkId('id', id));
    return ctx.deps.store.agents.getByName(ctx.tenantId, name!);
  }

  @Mutation(() => Agent, { description: 'Registers an agent, or a new version of an existing one (same name).' })
  async registerAgent(@Ctx() ctx: Context, @Arg('input', () => RegisterAgentInput) input: RegisterAgentInput): Promise<AgentRow> {
    requireRole(ctx.principal, 'submitter', 'registerAgent');
    const { agent } = await registerAgent(ctx.deps, ctx.tenantId, input, 'input');
    return agent;
  }

  @Mutation(() => Boolean, { description: 'Deletes an agent (by id or name); its tasks and versions stay readable. False when it did not exist.' })
  async deleteAgent(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<boolean> {
    requireRole(ctx.principal, 'submitter', 'deleteAgent');
    const agent = await findAgent(ctx, id);
    if (!agent) return false;
    const deleted = await ctx.deps.store.agents.delete(ctx.tenantId, agent.id);
    ctx.deps.agentCache?.invalidate(ctx.tenantId);
    return deleted;
  }

  @FieldResolver(() => AgentVersion, { nullable: true, description: 'The given version, or the latest when omitted.' })
  async version(@Root() agent: AgentRow, @Ctx() ctx: Context, @Arg('version', () => Int, { nullable: true }) version?: number | null): Promise<AgentVersionRow | null> {
    return ctx.deps.store.agents.version(agent.id, version ?? undefined);
  }

  @FieldResolver(() => [AgentVersion], { description: 'All versions, oldest first.' })
  async versions(@Root() agent: AgentRow, @Ctx() ctx: Context): Promise<AgentVersionRow[]> {
    return ctx.deps.store.agents.versions(agent.id);
  }
}

@Resolver(() => AgentVersion)
export class AgentVersionResolver {
  @FieldResolver(() => LimitsType)
  defaultLimits(@Root() version: AgentVersionRow, @Ctx() ctx: Context): LimitsType {
    return resolveLimits({}, version.defaultLimits, ctx.deps.config);
  }
}

