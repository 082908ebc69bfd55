/**
 * Who is calling. API keys look like `spd_<43 base64url characters>` (256 random bits); only their
 * sha256 is stored, and the secret is shown once, when the key is created. A key belongs to one
 * tenant and has one role: viewer (read) < submitter (submit, cancel, retry, register) < admin
 * (manage the tenant's keys). Admins of the default tenant are system admins: they create tenants
 * and manage keys of any tenant.
 *
 * With AUTH=off (loopback only) a caller without a key is the admin of the default tenant. A valid
 * key is still honoured (its tenant and role), so tenants can be tried locally; an unknown one is
 * ignored like a missing one (it could grant nothing more than no key does), so a dashboard that
 * kept an old key keeps working.
 */
import { createHash, randomBytes } from 'node:crypto';
import { SpindleError } from '../domain/index.js';
import { DEFAULT_TENANT_ID, type ApiKeyRole, type Store } from '../store/types.js';

export const KEY_PREFIX = 'spd_';
const KEY_SHAPE = /^spd_[A-Za-z0-9_-]{32,200}$/;
/** Characters of a key kept in the clear to tell keys apart: `spd_` + 6. */
const SHOWN_CHARS = 10;

const RANK: Record<ApiKeyRole, number> = { viewer: 0, submitter: 1, admin: 2 };

export type Principal =
  | { kind: 'anonymous'; tenantId: string; role: 'admin'; system: true }
  | { kind: 'apiKey'; keyId: string; keyName: string; tenantId: string; role: ApiKeyRole; system: boolean };

export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous', tenantId: DEFAULT_TENANT_ID, role: 'admin', system: true });

export function generateApiKey(): { secret: string; prefix: string; secretHash: string } {
  const secret = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { secret, prefix: secret.slice(0, SHOWN_CHARS), secretHash: hashApiKey(secret) };
}

export const hashApiKey = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export const keyPrefix = (secret: string): string => secret.slice(0, SHOWN_CHARS);

/** At least `role`? (admin ⊇ submitter ⊇ viewer) */
export const hasRole = (p: Principal, role: ApiKeyRole): boolean => RANK[p.role] >= RANK[role];

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
  /** The caller for these credentials; throws UNAUTHENTICATED for a missing (with AUTH=on), unknown or revoked key. */
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
    const row = await deps.store.apiKeys.findByHash(hash);
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

/**
 * Start-up: SPINDLE_ADMIN_KEY is ensured as a system admin key; without it, the first start with
 * auth on (no key in the default tenant yet) creates one and returns its secret to print once.
 */
export async function bootstrapAdminKey(store: Store, options: { enabled: boolean; adminKey: string | undefined }): Promise<{ generated: string | null; revokedAdminKey: boolean }> {
  if (options.adminKey) {
    const hash = hashApiKey(options.adminKey);
    const existing = await store.apiKeys.findByHash(hash);
    if (!existing) {
      await store.apiKeys.create({ tenantId: DEFAULT_TENANT_ID, name: 'SPINDLE_ADMIN_KEY', prefix: keyPrefix(options.adminKey), secretHash: hash, role: 'admin' });
    }
    return { generated: null, revokedAdminKey: !!existing?.revokedAt };
  }
  if (!options.enabled) return { generated: null, revokedAdminKey: false };
  if ((await store.apiKeys.list(DEFAULT_TENANT_ID)).length > 0) return { generated: null, revokedAdminKey: false };
  const key = generateApiKey();
  await store.apiKeys.create({ tenantId: DEFAULT_TENANT_ID, name: 'first admin key', prefix: key.prefix, secretHash: key.secretHash, role: 'admin' });
  return { generated: key.secret, revokedAdminKey: false };
}
