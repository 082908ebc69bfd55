/**
 * The executable schema. Building it needs no store, runtime or server (scripts/emit-schema.ts
 * builds it alone): resolvers reach services through the context, and subscriptions subscribe to
 * the bus found there. `pubSub` is only required by type-graphql's builder; pass the bus's.
 */
import 'reflect-metadata';
import { createPubSub, type PubSub } from '@graphql-yoga/subscription';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import type { Topics } from '../services/types.js';
import { AgentResolver, AgentVersionResolver } from './agent.resolver.js';
import { BuildResolver } from './build.resolver.js';
import { guardArguments } from './args.guard.js';
import { StatsResolver } from './stats.resolver.js';
import { TaskEventResolver } from './task-event.resolver.js';
import { TaskAttemptResolver, TaskConnectionResolver, TaskResolver } from './task.resolver.js';
import { TenantFieldsResolver, TenantResolver } from './tenant.resolver.js';

/**
 * Subscription fields whose resolver returns the event as it is. type-graphql wraps every resolver
 * (argument conversion into class instances, middlewares) and runs that wrapper once per delivered
 * event per subscriber; these need none of it (their arguments are read once, in `subscribe`).
 */
const PASS_THROUGH = ['taskUpdated', 'taskEvents'];

export async function makeSchema(pubsub: PubSub<Topics> = createPubSub<Topics>()): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers: [AgentResolver, AgentVersionResolver, BuildResolver, TaskResolver, TaskConnectionResolver, TaskAttemptResolver, TaskEventResolver, StatsResolver, TenantResolver, TenantFieldsResolver],
    pubSub: pubsub as never,
    // Inputs are validated by hand: their text here (args.guard.ts), the rest by the services; no class-validator.
    validate: false,
    emitSchemaFile: false,
  });
  const fields = schema.getSubscriptionType()!.getFields();
  for (const name of PASS_THROUGH) fields[name]!.resolve = (event: unknown) => event;
  // Every string argument checked once, before any resolver sees it (args.guard.ts).
  guardArguments(schema);
  return schema;
}
