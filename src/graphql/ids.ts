/** Identifier checks at the edge: ids are UUIDs in the store, agents are named by id or name. */
import { badInput, SpindleError } from '../domain/index.js';
import type { AgentRow } from '../store/types.js';
import type { Context } from './context.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (s: string) => UUID.test(s);

export function checkId(field: string, id: string): string {
  if (!isUuid(id)) throw badInput(field, `must be an id (UUID), got ${JSON.stringify(id.slice(0, 80))}`);
  return id.toLowerCase();
}

export const notFoundAt = (field: string, what: string, id: string) =>
  new SpindleError('NOT_FOUND', `${field}: ${what} ${JSON.stringify(id)} not found`, { field, id });

/** An agent by id or name, in the caller's tenant. */
export async function findAgent(ctx: Context, idOrName: string): Promise<AgentRow | null> {
  const { agents } = ctx.deps.store;
  if (isUuid(idOrName)) return (await agents.get(ctx.tenantId, idOrName.toLowerCase())) ?? agents.getByName(ctx.tenantId, idOrName);
  return agents.getByName(ctx.tenantId, idOrName);
}

export async function requireAgent(ctx: Context, field: string, idOrName: string): Promise<AgentRow> {
  const agent = await findAgent(ctx, idOrName);
  if (!agent) throw notFoundAt(field, 'agent', idOrName);
  return agent;
}
