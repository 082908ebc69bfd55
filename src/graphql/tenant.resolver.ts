/**
 * Accounts: createTenant, tenants and setTenantQuotas (system admins), createApiKey / apiKeys /
 * revokeApiKey (admins, in their tenant; system admins in any), `me`, and Tenant.quotas (admins of
 * the tenant). Another tenant's ids answer NOT_FOUND to anyone but a system admin, so ids cannot be probed.
 */
import 'reflect-metadata';
import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { badInput, SpindleError, TENANT_QUOTAS } from '../domain/index.js';
import type { ApiKeyRow, TenantRow } from '../store/types.js';
import { generateApiKey, requireRole, requireSystem } from './auth.js';
import type { Context } from './context.js';
import { checkId, notFoundAt } from './ids.js';
import { checkQuotaOverrides, TenantQuotasInput } from './quota.input.js';
import { effectiveQuotas } from './quota.js';
import { TenantQuotas } from './quota.type.js';
import { ApiKey, Caller, CreateApiKeyInput, CreatedApiKey, Tenant } from './tenant.type.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,99}$/;

/** The tenant an admin acts on: its own, or (system admins) any existing one. */
async function targetTenant(ctx: Context, field: string, tenantId: string | null | undefined): Promise<string> {
  if (tenantId == null) return ctx.tenantId;
  const id = checkId(field, tenantId);
  if (id === ctx.tenantId) return id;
  if (!ctx.principal.system || !(await ctx.deps.store.tenants.get(id))) throw notFoundAt(field, 'tenant', tenantId);
  return id;
}

@Resolver()
export class TenantResolver {
  @Query(() => Caller, { description: 'The caller: tenant, role, key.' })
  async me(@Ctx() ctx: Context): Promise<Caller> {
    const tenant = await ctx.deps.store.tenants.get(ctx.tenantId);
    if (!tenant) throw new Error(`tenant ${ctx.tenantId} of the caller is missing`);
    const p = ctx.principal;
    return { tenant, role: p.role, keyId: p.kind === 'apiKey' ? p.keyId : null, systemAdmin: p.system, authEnabled: ctx.deps.config.auth.enabled };
  }

  @Query(() => [Tenant], { description: 'Every tenant (system admins only).' })
  async tenants(@Ctx() ctx: Context): Promise<TenantRow[]> {
    requireSystem(ctx.principal, 'tenants');
    return ctx.deps.store.tenants.list();
  }

  @Mutation(() => Tenant, { description: 'Creates a tenant (system admins only), optionally with quota overrides; then give it keys with createApiKey(input: {tenantId}).' })
  async createTenant(
    @Ctx() ctx: Context,
    @Arg('name', () => String) name: string,
    @Arg('quotas', () => TenantQuotasInput, { nullable: true }) quotas?: TenantQuotasInput | null,
  ): Promise<TenantRow> {
    requireSystem(ctx.principal, 'createTenant');
    if (!NAME.test(name)) throw badInput('name', 'must be 1-100 characters of letters, digits, space, ".", "_", "@" or "-", starting with a letter or digit');
    return ctx.deps.store.tenants.create(name, quotas ? checkQuotaOverrides('quotas', quotas) : {});
  }

  @Mutation(() => Tenant, {
    description:
      'Sets or clears quota overrides of a tenant (system admins only). Applies at once on this node, within 5 s on the others; running tasks above a lowered cap finish, and no more start until the tenant is under it.',
  })
  async setTenantQuotas(
    @Ctx() ctx: Context,
    @Arg('tenantId', () => ID) tenantId: string,
    @Arg('input', () => TenantQuotasInput) input: TenantQuotasInput,
  ): Promise<TenantRow> {
    requireSystem(ctx.principal, 'setTenantQuotas');
    const id = checkId('tenantId', tenantId);
    const quotas = checkQuotaOverrides('input', input);
    const row = await ctx.deps.store.tenants.setQuotas(id, quotas);
    if (!row) throw notFoundAt('tenantId', 'tenant', tenantId);
    ctx.deps.quotas?.forget(id);
    ctx.deps.logger.info({ tenantId: id, quotas, by: ctx.principal.kind === 'apiKey' ? ctx.principal.keyId : 'anonymous' }, 'tenant quotas set');
    return row;
  }

  @Query(() => [ApiKey], { description: "The tenant's API keys, newest first, revoked ones included; never their secrets (admins)." })
  async apiKeys(@Ctx() ctx: Context, @Arg('tenantId', () => ID, { nullable: true }) tenantId?: string | null): Promise<ApiKeyRow[]> {
    requireRole(ctx.principal, 'admin', 'apiKeys');
    return ctx.deps.store.apiKeys.list(await targetTenant(ctx, 'tenantId', tenantId));
  }

  @Mutation(() => CreatedApiKey, { description: 'Creates an API key and returns its secret, once (admins).' })
  async createApiKey(@Ctx() ctx: Context, @Arg('input', () => CreateApiKeyInput) input: CreateApiKeyInput): Promise<CreatedApiKey> {
    requireRole(ctx.principal, 'admin', 'createApiKey');
    if (!NAME.test(input.name)) throw badInput('input.name', 'must be 1-100 characters of letters, digits, space, ".", "_", "@" or "-", starting with a letter or digit');
    const tenantId = await targetTenant(ctx, 'input.tenantId', input.tenantId);
    const { secret, prefix, secretHash } = generateApiKey();
    const key = await ctx.deps.store.apiKeys.create({ tenantId, name: input.name, prefix, secretHash, role: input.role });
    ctx.deps.logger.info({ keyId: key.id, tenantId, role: key.role, by: ctx.principal.kind === 'apiKey' ? ctx.principal.keyId : 'anonymous' }, 'API key created');
    return { key, secret };
  }

  @Mutation(() => ApiKey, { description: 'Revokes an API key at once on this node, within 5 s on the others (admins). Revoking twice is harmless.' })
  async revokeApiKey(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('tenantId', () => ID, { nullable: true }) tenantId?: string | null): Promise<ApiKeyRow> {
    requireRole(ctx.principal, 'admin', 'revokeApiKey');
    const tenant = await targetTenant(ctx, 'tenantId', tenantId);
    const row = await ctx.deps.store.apiKeys.revoke(tenant, checkId('id', id));
    if (!row) throw notFoundAt('id', 'API key', id);
    ctx.deps.authenticator?.forget(row.id);
    ctx.deps.logger.info({ keyId: row.id, tenantId: tenant }, 'API key revoked');
    return row;
  }
}

@Resolver(() => Tenant)
export class TenantFieldsResolver {
  @FieldResolver(() => TenantQuotas, { description: "The quotas in force for this tenant (admins of the tenant, system admins)." })
  quotas(@Root() tenant: TenantRow, @Ctx() ctx: Context): TenantQuotas {
    requireRole(ctx.principal, 'admin', 'Tenant.quotas');
    // Tenants reach the API through `me` (the caller's own) and system-admin fields only; this is the backstop.
    if (tenant.id !== ctx.tenantId && !ctx.principal.system) throw new SpindleError('FORBIDDEN', "Tenant.quotas of another tenant needs a system admin key");
    return { ...effectiveQuotas(tenant.quotas, ctx.deps.config.quotas), overridden: TENANT_QUOTAS.filter((q) => tenant.quotas[q] !== null) };
  }
}
