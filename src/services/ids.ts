/** Identifiers as callers send them: ids are UUIDs (anything else is BAD_USER_INPUT naming the field). */
import { badInput, isUuid, SpindleError } from '../domain/index.js';

export function checkId(field: string, id: string): string {
  if (!isUuid(id)) throw badInput(field, `must be an id (UUID), got ${JSON.stringify(id.slice(0, 80))}`);
  return id.toLowerCase();
}

export const notFoundAt = (field: string, what: string, id: string) =>
  new SpindleError('NOT_FOUND', `${field}: ${what} ${JSON.stringify(id)} not found`, { field, id });
