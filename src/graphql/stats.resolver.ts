import 'reflect-metadata';
import { Ctx, Query, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import type { Context } from './context.js';
import { every } from './live.js';
import { Stats } from './stats.type.js';

export const STATS_INTERVAL_MS = 1000;

@Resolver(() => Stats)
export class StatsResolver {
  @Query(() => Stats, { description: 'Queue depth by status, throughput, latency percentiles, workers.' })
  stats(@Ctx() ctx: Context): Promise<Stats> {
    return ctx.services.stats.snapshot(ctx.caller);
  }

  @Subscription(() => Stats, {
    name: 'stats',
    description: 'Stats now, then every second.',
    subscribe: ({ context }: SubscribeResolverData<unknown, object, Context>) => every(STATS_INTERVAL_MS, () => context.services.stats.snapshot(context.caller)),
  })
  statsLive(@Root() stats: Stats): Stats {
    return stats;
  }
}
