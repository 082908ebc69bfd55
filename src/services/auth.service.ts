/**
 * Who is calling, and whether they may. API keys look like `spd_<43 base64url characters>` (256
 * random bits); only their sha256 is stored, and the secret is shown once, when the key is
 * created. Roles and the system admin are the domain's (domain/caller.ts); every use case checks
 * them here (requireRole, requireSystem), whatever transport it came by.
 *
 * With AUTH=off (loopback only) a caller without a key is the admin of the default tenant. A valid
 * key is still honoured (its tenant and role), so tenants can be tried locally; an unknown one is
 * ignored like a missing one (it could grant nothing more than no key does), so a dashboard that
 * kept an old key keeps working.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ANONYMOUS, DEFAULT_TENANT_ID, hasRole, SpindleError, type ApiKeyRole, type Principal } from '../domain/index.js';
import type { Store } from '../store/index.js';
import { storeFailure } from './failures.js';

export const KEY_PREFIX = 'spd_';
const KEY_SHAPE = /^spd_[A-Za-z0-9_-]{32,200}$/;
/** Characters of a key kept in the clear to tell keys apart: `spd_` + 6. */
const SHOWN_CHARS = 10;

export function generateApiKey(): { secret: string; prefix: string; secretHash: string } {
  const secret = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { secret, prefix: secret.slice(0, SHOWN_CHARS), secretHash: hashApiKey(secret) };
}

export const hashApiKey = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export const keyPrefix = (secret: string): string => secret.slice(0, SHOWN_CHARS);

export function requireRole(p: Principal, role: ApiKeyRole, action: string): void {
  if (!hasRole(p, role)) throw new SpindleError('FORBIDDEN', `${action} needs the ${role} role; this key is a ${p.role}`, { role: p.role, required: role });
}

export function requireSystem(p: Principal, action: string): void {
  if (!p.system) throw new SpindleError('FORBIDDEN', `${action} needs an admin key of the default (system) tenant`, { required: 'system admin' });
}

export const unauthenticated = (message: string) => new SpindleError('UNAUTHENTICATED', message);

/** The bearer token of an `Authorization` header (HTTP) or `authorization` connection param (WebSocket). */
export function bearerOf(credentials: Record<string, unknown>): string | null {
  const raw = credentials.authorization ?? credentials.Authorization;
  if (typeof raw !== 'string') return null;
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(raw);
  return m ? m[1]! : raw.trim() || null;
}

export interface Authenticator {
  /**
   * The caller for these credentials; throws UNAUTHENTICATED for a missing (with AUTH=on), unknown
   * or revoked key, and UNAVAILABLE when the key is not cached and the database cannot be asked
   * (never UNAUTHENTICATED for a key we could not look up: the client must retry, not give up).
   */
  authenticate(credentials: Record<string, unknown>): Promise<Principal>;
  /** Forgets a key at once on this node (after a revoke); other nodes forget it within CACHE_MS. */
  forget(keyId: string): void;
}

/** How long a looked-up key is trusted without asking the database again (bounds revocation delay across nodes). */
export const CACHE_MS = 5000;
const CACHE_MAX = 10_000;
const TOUCH_EVERY_MS = 60_000;

export function makeAuthenticator(deps: { store: Store; enabled: boolean; onTouchError?: (err: unknown) => void }): Authenticator {
  const cache = new Map<string, { at: number; principal: Principal | null }>();
  const touched = new Map<string, number>();

  const lookup = async (hash: string): Promise<Principal | null> => {
    const hit = cache.get(hash);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.principal;
    const row = await deps.store.apiKeys.findByHash(hash).catch((err: unknown) => {
      throw storeFailure(err) ?? err;
    });
    const principal: Principal | null =
      row && !row.revokedAt
        ? { kind: 'apiKey', keyId: row.id, keyName: row.name, tenantId: row.tenantId, role: row.role, system: row.role === 'admin' && row.tenantId === DEFAULT_TENANT_ID }
        : null;
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(hash, { at: Date.now(), principal });
    return principal;
  };

  return {
    async authenticate(credentials) {
      const secret = bearerOf(credentials);
      if (secret === null) {
        if (deps.enabled) throw unauthenticated('an API key is required: send Authorization: Bearer spd_…');
        return ANONYMOUS;
      }
      // Malformed keys never reach the database; the message never echoes the secret.
      const principal = KEY_SHAPE.test(secret) ? await lookup(hashApiKey(secret)) : null;
      if (!principal || principal.kind !== 'apiKey') {
        if (!deps.enabled) return ANONYMOUS;
        throw unauthenticated('the API key is not valid (unknown, malformed or revoked)');
      }
      const last = touched.get(principal.keyId) ?? 0;
      if (Date.now() - last > TOUCH_EVERY_MS) {
        touched.set(principal.keyId, Date.now());
        deps.store.apiKeys.touch(principal.keyId).catch((err: unknown) => deps.onTouchError?.(err));
      }
      return principal;
    },
    forget(keyId) {
      for (const [hash, entry] of cache) if (entry.principal?.kind === 'apiKey' && entry.principal.keyId === keyId) cache.delete(hash);
    },
  };
}
