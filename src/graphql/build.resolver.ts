/**
 * Builds from source, asynchronously: buildAgent records a build and answers it at once (QUEUED);
 * build(id) reads it; buildUpdated(id) gives its state now, then every change, and completes when
 * it SUCCEEDED or FAILED. A build whose node stopped is read as FAILED (services/build.jobs.ts):
 * the subscription looks again every BUILD_STALE_MS, so it never waits for such a build forever.
 */
import 'reflect-metadata';
import { Repeater } from '@graphql-yoga/subscription';
import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { BUILD_STALE_MS, presentBuild } from '../services/build.jobs.js';
import { checkId, notFoundAt } from '../services/ids.js';
import type { AgentBuildRow, AgentRow } from '../services/types.js';
import { RegisterAgentInput } from './agent.input.js';
import { Agent } from './agent.type.js';
import { Build } from './build.type.js';
import type { Context } from './context.js';
import { eager } from './live.js';

const ended = (b: AgentBuildRow) => b.status === 'SUCCEEDED' || b.status === 'FAILED';

async function subscribeBuildUpdated({ args, context }: SubscribeResolverData<unknown, { id: string }, Context>) {
  const id = checkId('id', args.id);
  const { caller, services } = context;
  const events = eager(context.pubsub.subscribe('BUILD_UPDATED', id));
  const read = async () => {
    const row = await services.agents.getBuild(caller, id);
    if (!row) throw notFoundAt('id', 'build', id);
    return row;
  };
  let first: AgentBuildRow;
  try {
    first = await read();
  } catch (err) {
    await events.return?.();
    throw err;
  }
  return new Repeater<AgentBuildRow>(async (push, stop) => {
    const stopped = stop.then(() => ({ done: true as const, value: undefined }));
    // A build whose node stopped sends no more events: look again now and then.
    const recheck = setInterval(() => void read().then((row) => (ended(row) ? push(row).then(() => stop()) : undefined), () => stop()), BUILD_STALE_MS);
    recheck.unref();
    try {
      await push(first);
      if (ended(first)) return stop();
      for (;;) {
        const next = await Promise.race([events.next(), stopped]);
        if (next.done) break;
        if (next.value.tenantId !== caller.tenantId) continue;
        const row = presentBuild(next.value);
        await push(row);
        if (ended(row)) break;
      }
    } finally {
      clearInterval(recheck);
      stop();
      await events.return?.();
    }
  });
}

@Resolver(() => Build)
export class BuildResolver {
  @Mutation(() => Build, {
    description:
      'Builds an agent from `input.source` in the background and answers the build at once (QUEUED): follow it with buildUpdated(id) or build(id). ' +
      'When it SUCCEEDED the agent is registered as registerAgent would (same name: a new version); a failed build is FAILED with its error, diagnostics and log. ' +
      'What registerAgent would refuse at once (name, limits, the source beyond its limits) is refused here the same way.',
  })
  buildAgent(@Ctx() ctx: Context, @Arg('input', () => RegisterAgentInput) input: RegisterAgentInput): Promise<AgentBuildRow> {
    return ctx.services.agents.startBuild(ctx.caller, input, 'input');
  }

  @Query(() => Build, { nullable: true, description: 'A build by id (buildAgent); null when there is none.' })
  build(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<AgentBuildRow | null> {
    return ctx.services.agents.getBuild(ctx.caller, checkId('id', id));
  }

  @Subscription(() => Build, {
    subscribe: subscribeBuildUpdated,
    description: 'The build now, then every change of it; completes once it SUCCEEDED or FAILED (at once for one that has).',
  })
  buildUpdated(@Root() build: AgentBuildRow, @Arg('id', () => ID) _id: string): AgentBuildRow {
    return build;
  }

  @FieldResolver(() => Agent, { nullable: true, description: 'The agent it registered (SUCCEEDED).' })
  async agent(@Root() build: AgentBuildRow, @Ctx() ctx: Context): Promise<AgentRow | null> {
    return build.agentId ? ctx.services.agents.find(ctx.caller, build.agentId) : null;
  }
}
