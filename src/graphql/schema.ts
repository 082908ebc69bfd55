/**
 * The executable schema. Building it needs no store, runtime or server (scripts/emit-schema.ts
 * builds it alone): resolvers reach services through the context, and subscriptions subscribe to
 * the bus found there. `pubSub` is only required by type-graphql's builder; pass the bus's.
 */
import 'reflect-metadata';
import { createPubSub, type PubSub } from '@graphql-yoga/subscription';
import type { GraphQLFieldResolver, GraphQLSchema } from 'graphql';
import { buildSchema, getMetadataStorage } from 'type-graphql';
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

/**
 * Mutations whose method is called directly, without type-graphql's wrapper. On every call that
 * wrapper turns each input object into an instance of its class, and re-derives the input type's
 * field tree for each object as it goes (type-graphql 2.0.0-rc.4, resolvers/convert-args.js): for a
 * batch of 100 tasks, ~10 % of all the submit path allocates. Our inputs are plain data (no
 * methods, no initializers), and the wrapper has nothing else to do here (validate: false, no
 * middlewares, no authChecker): these get the arguments as graphql-js coerced them.
 */
const DIRECT_MUTATIONS = ['submitTask', 'submitTasks'];

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
  const mutations = schema.getMutationType()!.getFields();
  for (const name of DIRECT_MUTATIONS) mutations[name]!.resolve = directResolver(name);
  // Every string argument checked once, before any resolver sees it (args.guard.ts).
  guardArguments(schema);
  return schema;
}

/**
 * A resolver that calls mutation `name`'s method with its context and arguments as they are. Only
 * for methods whose parameters are @Ctx() and @Arg() and that have no middleware or roles: anything
 * else the wrapper would have done fails here, when the schema is built.
 */
function directResolver(name: string): GraphQLFieldResolver<unknown, Record<string, unknown>, Record<string, unknown>> {
  const meta = getMetadataStorage().mutations.find((m) => m.schemaName === name);
  if (!meta) throw new Error(`direct resolver: no mutation ${name}`);
  if (meta.middlewares?.length || meta.roles !== undefined) throw new Error(`direct resolver: ${name} has middlewares or roles, which only type-graphql's wrapper applies`);
  const params = [...(meta.params ?? [])].sort((a, b) => a.index - b.index);
  const read = params.map((p, i): ((args: Record<string, unknown>, ctx: Record<string, unknown>) => unknown) => {
    if (p.index !== i) throw new Error(`direct resolver: ${name} has an undecorated parameter ${i}`);
    if (p.kind === 'arg') return (args) => args[p.name];
    if (p.kind === 'context') return p.propertyName === undefined ? (_args, ctx) => ctx : (_args, ctx) => ctx[p.propertyName!];
    throw new Error(`direct resolver: ${name} takes a @${p.kind} parameter, which only type-graphql's wrapper provides`);
  });
  const Resolver = meta.target as new () => Record<string, (...args: unknown[]) => unknown>;
  const instance = new Resolver();
  const method = instance[meta.methodName]!;
  return (_root, args, ctx) => method.apply(instance, read.map((r) => r(args, ctx)));
}
