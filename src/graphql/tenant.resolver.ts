/**
 * Accounts: createTenant, tenants, setTenantQuotas and setTenantRetention (system admins),
 * createApiKey / apiKeys / revokeApiKey (admins, in their tenant; system admins in any), `me`, and
 * Tenant.quotas and Tenant.retention (admins of the tenant). The rules are the services' (services/tenant.service.ts, key.service.ts).
 */
import 'reflect-metadata';
import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { ApiKeyRow, TenantRow } from '../services/types.js';
import type { Context } from './context.js';
import { TenantQuotasInput } from './quota.input.js';
import { TenantQuotas } from './quota.type.js';
import { TenantRetentionInput } from './retention.input.js';
import { TenantRetention } from './retention.type.js';
import { ApiKey, Caller, CreateApiKeyInput, CreatedApiKey, Tenant } from './tenant.type.js';

@Resolver()
export class TenantResolver {
  @Query(() => Caller, { description: 'The caller: tenant, role, key.' })
  me(@Ctx() ctx: Context): Promise<Caller> {
    return ctx.services.tenants.me(ctx.caller);
  }

  @Query(() => [Tenant], { description: 'Every tenant (system admins only).' })
  tenants(@Ctx() ctx: Context): Promise<TenantRow[]> {
    return ctx.services.tenants.list(ctx.caller);
  }

  @Mutation(() => Tenant, { description: 'Creates a tenant (system admins only), optionally with quota overrides; then give it keys with createApiKey(input: {tenantId}).' })
  createTenant(
    @Ctx() ctx: Context,
    @Arg('name', () => String) name: string,
    @Arg('quotas', () => TenantQuotasInput, { nullable: true }) quotas?: TenantQuotasInput | null,
  ): Promise<TenantRow> {
    return ctx.services.tenants.create(ctx.caller, name, quotas);
  }

  @Mutation(() => Tenant, {
    description:
      'Sets or clears quota overrides of a tenant (system admins only). Applies at once on this node, within 5 s on the others; running tasks above a lowered cap finish, and no more start until the tenant is under it.',
  })
  setTenantQuotas(
    @Ctx() ctx: Context,
    @Arg('tenantId', () => ID) tenantId: string,
    @Arg('input', () => TenantQuotasInput) input: TenantQuotasInput,
  ): Promise<TenantRow> {
    return ctx.services.tenants.setQuotas(ctx.caller, tenantId, input);
  }

  @Mutation(() => Tenant, {
    description: "Sets or clears retention overrides of a tenant (system admins only): how long its ended tasks are kept, per status. The sweeper's next pass applies them, on every node.",
  })
  setTenantRetention(
    @Ctx() ctx: Context,
    @Arg('tenantId', () => ID) tenantId: string,
    @Arg('input', () => TenantRetentionInput) input: TenantRetentionInput,
  ): Promise<TenantRow> {
    return ctx.services.tenants.setRetention(ctx.caller, tenantId, input);
  }

  @Query(() => [ApiKey], { description: "The tenant's API keys, newest first, revoked ones included; never their secrets (admins)." })
  apiKeys(@Ctx() ctx: Context, @Arg('tenantId', () => ID, { nullable: true }) tenantId?: string | null): Promise<ApiKeyRow[]> {
    return ctx.services.keys.list(ctx.caller, tenantId);
  }

  @Mutation(() => CreatedApiKey, { description: 'Creates an API key and returns its secret, once (admins).' })
  createApiKey(@Ctx() ctx: Context, @Arg('input', () => CreateApiKeyInput) input: CreateApiKeyInput): Promise<CreatedApiKey> {
    return ctx.services.keys.create(ctx.caller, input);
  }

  @Mutation(() => ApiKey, { description: 'Revokes an API key at once on this node, within 5 s on the others (admins). Revoking twice is harmless.' })
  revokeApiKey(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('tenantId', () => ID, { nullable: true }) tenantId?: string | null): Promise<ApiKeyRow> {
    return ctx.services.keys.revoke(ctx.caller, id, tenantId);
  }
}

@Resolver(() => Tenant)
export class TenantFieldsResolver {
  @FieldResolver(() => TenantQuotas, { description: 'The quotas in force for this tenant (admins of the tenant, system admins).' })
  quotas(@Root() tenant: TenantRow, @Ctx() ctx: Context): TenantQuotas {
    return ctx.services.tenants.quotasOf(ctx.caller, tenant);
  }

  @FieldResolver(() => TenantRetention, { description: 'How long ended tasks are kept for this tenant (admins of the tenant, system admins).' })
  retention(@Root() tenant: TenantRow, @Ctx() ctx: Context): TenantRetention {
    return ctx.services.tenants.retentionOf(ctx.caller, tenant);
  }
}
