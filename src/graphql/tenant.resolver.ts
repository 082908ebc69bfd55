/**
 * Accounts: createTenant and tenants (system admins), createApiKey / apiKeys / revokeApiKey
 * (admins, in their tenant; system admins in any), and `me`. Another tenant's ids answer
 * NOT_FOUND to anyone but a system admin, so ids cannot be probed.
 */
import 'reflect-metadata';
import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { badInput } from '../domain/index.js';
import type { ApiKeyRow, TenantRow } from '../store/types.js';
import { generateApiKey, requireRole, requireSystem } from './auth.js';
import type { Context } from './context.js';
import { checkId, notFoundAt } from './ids.js';
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

  @Mutation(() => Tenant, { description: 'Creates a tenant (system admins only); then give it keys with createApiKey(input: {tenantId}).' })
  async createTenant(@Ctx() ctx: Context, @Arg('name', () => String) name: string): Promise<TenantRow> {
    requireSystem(ctx.principal, 'createTenant');
    if (!NAME.test(name)) throw badInput('name', 'must be 1-100 characters of letters, digits, space, ".", "_", "@" or "-", starting with a letter or digit');
    return ctx.deps.store.tenants.create(name);
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


