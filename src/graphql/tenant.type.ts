/** Tenants, API keys and the caller as the API shows them (resolvers return store rows). */
import 'reflect-metadata';
import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { API_KEY_ROLES, type ApiKeyRole } from '../domain/index.js';
import type { CreateApiKeyParams } from '../services/index.js';
import { DateTimeScalar } from './scalars.js';

export const ApiKeyRoleEnum = Object.fromEntries(API_KEY_ROLES.map((r) => [r, r])) as { [K in ApiKeyRole]: K };
registerEnumType(ApiKeyRoleEnum, {
  name: 'ApiKeyRole',
  description: 'viewer: read; submitter: also register agents, submit, cancel and retry tasks; admin: also manage the tenant\'s API keys.',
});

@ObjectType('Tenant')
export class Tenant {
  @Field(() => ID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => DateTimeScalar) createdAt!: Date;
}

@ObjectType('ApiKey', { description: 'An API key without its secret (the secret is shown once, by createApiKey).' })
export class ApiKey {
  @Field(() => ID) id!: string;
  @Field(() => ID) tenantId!: string;
  @Field(() => String) name!: string;
  @Field(() => String, { description: 'The first characters of the key, to tell keys apart.' }) prefix!: string;
  @Field(() => ApiKeyRoleEnum) role!: ApiKeyRole;
  @Field(() => DateTimeScalar) createdAt!: Date;
  @Field(() => DateTimeScalar, { nullable: true, description: 'Last use, updated at most once a minute.' }) lastUsedAt?: Date | null;
  @Field(() => DateTimeScalar, { nullable: true }) revokedAt?: Date | null;
}

@ObjectType('CreatedApiKey')
export class CreatedApiKey {
  @Field(() => ApiKey) key!: ApiKey;
  @Field(() => String, { description: 'The secret (spd_…): shown only here, once. Send it as Authorization: Bearer <secret>.' }) secret!: string;
}

@ObjectType('Caller', { description: 'Who the API sees: the tenant and role of the key in use.' })
export class Caller {
  @Field(() => Tenant) tenant!: Tenant;
  @Field(() => ApiKeyRoleEnum) role!: ApiKeyRole;
  @Field(() => ID, { nullable: true, description: 'The API key in use; null without one (AUTH=off).' }) keyId?: string | null;
  @Field(() => Boolean, { description: 'An admin of the default tenant: may create tenants and manage any tenant\'s keys.' }) systemAdmin!: boolean;
  @Field(() => Boolean, { description: 'Whether this server requires API keys (AUTH).' }) authEnabled!: boolean;
}

@InputType('CreateApiKeyInput')
export class CreateApiKeyInput implements CreateApiKeyParams {
  @Field(() => String, { description: '1-100 characters, to recognise the key by.' }) name!: string;
  @Field(() => ApiKeyRoleEnum) role!: ApiKeyRole;
  @Field(() => ID, { nullable: true, description: "Another tenant's id (system admins only); default: the caller's tenant." }) tenantId?: string | null;
}
