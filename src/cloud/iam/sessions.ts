/**
 * Temporary credentials (STS): an ASIA… access key, its secret, and a session token of which only the SHA-256 is
 * kept, valid until they expire. A role session (AssumeRole, an instance profile's, a function's) acts as the role; a
 * session token (GetSessionToken) as the user or root that asked. SigV4 checks the token and the expiry (the AccessKey
 * carries them); a session whose role or user is gone (or deleted and made again) is no key. Rows expired for an hour
 * are swept.
 */
import { log } from '../../log.js';
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, lt } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { iamRoles, iamUsers, stsSessions } from '../../db/tables.js';
import type { AccessKey } from '../accounts.js';
import { CloudError } from '../errors.js';
import type { Identity } from './identity.js';
import { iamId } from './names.js';
import { trustAllows } from './policy/index.js';
import { storedTrust } from './trust.js';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** What a session carries beyond its identity: session policies and session tags (the policy evaluation reads them). */
export interface SessionScope {
  /** The inline session policy (AssumeRole Policy), JSON text. */
  policy?: string;
  /** Managed policies the session is limited to (AssumeRole PolicyArns). */
  policyArns: readonly string[];
  /** Session tags (aws:PrincipalTag/…), keys as given. */
  tags: ReadonlyMap<string, string>;
}

/** A session's identity: the role session's or the user's/root's, with its scope when it has one. */
export type SessionIdentity = Identity & { scope?: SessionScope };

export interface MintRequest {
  accountId: string;
  roleName: string;
  sessionName: string;
  durationSeconds: number;
  /** Who pcloud mints it for: `instance:i-…`, `function:NAME`; absent for AssumeRole. */
  source?: string;
  /**
   * The service that assumes the role on the source's behalf (`ec2.amazonaws.com` for an instance): the role's trust
   * policy must allow it sts:AssumeRole, as AWS's (else AccessDenied: a role that trusts only a person is not an
   * instance's or a function's to use).
   */
  service?: string;
  /** AssumeRole's session policies and tags. */
  policy?: string;
  policyArns?: readonly string[];
  tags?: ReadonlyMap<string, string>;
}

/** The shortest session AWS gives, and the longest any role may allow (MaxSessionDuration's bounds). */
export const MIN_DURATION_S = 900;
export const MAX_ROLE_DURATION_S = 43_200;
/** GetSessionToken: a user's session up to 36 hours, root's up to one; both 12 hours by default. */
export const MAX_USER_TOKEN_S = 129_600;
export const MAX_ROOT_TOKEN_S = 3_600;

/** How long a looked-up session is trusted from memory (as Accounts' keys). */
const KEY_CACHE_MS = 5_000;
/** Expired sessions are kept this long (a late request is told ExpiredToken rather than that the key is unknown). */
const KEEP_EXPIRED_MS = 3_600_000;
const SWEEP_EVERY_MS = 3_600_000;

/** The SHA-256 (hex) of a session token: what is stored, and what SigV4 compares. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Seconds a session lasts, checked against [MIN_DURATION_S, max] (a programming error otherwise: the API checks first). */
function checkDuration(seconds: number, max: number): void {
  if (!Number.isInteger(seconds) || seconds < MIN_DURATION_S || seconds > max) {
    throw new CloudError('ValidationError', `DurationSeconds must be between ${MIN_DURATION_S} and ${max} seconds.`);
  }
}

export class Sessions {
  private readonly cache = new Map<string, { key: AccessKey; until: number }>();
  /** Moves at every forget() and changed(): a session read before then (its lookup in flight) is not kept. */
  private generation = 0;
  private readonly sweeper: NodeJS.Timeout;
  /** Told when sessions of the account were ended (endFor): the other servers are told in turn (generation.ts). */
  onEnded?: (accountId: string) => Promise<void>;

  constructor(private readonly db: Db, private readonly clock: () => number = Date.now) {
    const sweep = () => void this.sweep().catch((err) => log.warn(`expired STS sessions: ${(err as Error).message}`));
    sweep();
    this.sweeper = setInterval(sweep, SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  /** Credentials for a session of the account's role `roleName` (NoSuchEntity if it has none by that name). */
  async mint(req: MintRequest): Promise<Credentials> {
    checkDuration(req.durationSeconds, MAX_ROLE_DURATION_S);
    const role = (await this.db.select().from(iamRoles).where(and(eq(iamRoles.accountId, req.accountId), eq(iamRoles.name, req.roleName))).limit(1))[0];
    if (!role) throw new CloudError('NoSuchEntity', `The role with name ${req.roleName} cannot be found.`);
    if (req.service !== undefined && !serviceTrusted(role.assumeRolePolicy, req.service)) {
      throw new CloudError('AccessDenied', `${req.service} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${role.accountId}:role${role.path}${role.name}`);
    }
    const limited = req.policy !== undefined || Boolean(req.policyArns?.length);
    return await this.insert(req.accountId, req.durationSeconds, {
      kind: 'assumed-role', name: role.name, principalId: role.roleId, sessionName: req.sessionName, source: req.source ?? null,
      sessionPolicies: limited ? JSON.stringify({ ...(req.policy !== undefined ? { policy: req.policy } : {}), policyArns: req.policyArns ?? [] }) : null,
      tags: req.tags?.size ? JSON.stringify([...req.tags]) : null,
    });
  }

  /** GetSessionToken: credentials acting as `identity` itself (a user, or root), for `durationSeconds`. */
  async mintFor(identity: Identity, durationSeconds: number): Promise<Credentials> {
    switch (identity.kind) {
      case 'root':
        checkDuration(durationSeconds, MAX_ROOT_TOKEN_S);
        return await this.insert(identity.accountId, durationSeconds, { kind: 'root' });
      case 'user':
        checkDuration(durationSeconds, MAX_USER_TOKEN_S);
        return await this.insert(identity.accountId, durationSeconds, { kind: 'user', name: identity.name, principalId: identity.id });
      case 'assumed-role':
        throw new CloudError('AccessDenied', 'Cannot call GetSessionToken with session credentials');
    }
  }

  private async insert(accountId: string, durationSeconds: number, who: Partial<typeof stsSessions.$inferInsert> & { kind: string }): Promise<Credentials> {
    const now = this.clock();
    const creds: Credentials = {
      accessKeyId: iamId('ASIA'),
      secretAccessKey: randomBytes(30).toString('base64').slice(0, 40),
      sessionToken: randomBytes(96).toString('base64'),
      // AWS's expirations are whole seconds.
      expiration: new Date(Math.floor((now + durationSeconds * 1000) / 1000) * 1000),
    };
    await this.db.insert(stsSessions).values({
      ...who, accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, tokenHash: tokenHash(creds.sessionToken),
      accountId, expiresAt: creds.expiration.getTime(), createdAt: now,
    });
    return creds;
  }

  /**
   * The temporary key `accessKeyId`, with whose it is and its session (token hash, expiry: SigV4 checks both). A
   * session whose role or user is gone is no key. Cached for a few seconds; forget() drops one at once.
   */
  async findKey(accessKeyId: string): Promise<AccessKey | undefined> {
    if (!accessKeyId.startsWith('ASIA')) return undefined;
    const now = this.clock();
    const hit = this.cache.get(accessKeyId);
    if (hit && hit.until > now) return hit.key;
    const generation = this.generation;
    const key = await this.load(accessKeyId);
    if (key && generation === this.generation) this.cache.set(accessKeyId, { key, until: now + KEY_CACHE_MS });
    else this.cache.delete(accessKeyId);
    return key;
  }

  forget(accessKeyId: string): void {
    this.generation++;
    this.cache.delete(accessKeyId);
  }

  /** IAM changed (a role or user deleted, renamed or made again): no session is trusted from memory any more. */
  changed(): void {
    this.generation++;
    this.cache.clear();
  }

  private async load(accessKeyId: string): Promise<AccessKey | undefined> {
    const row = (await this.db.select().from(stsSessions).where(eq(stsSessions.accessKeyId, accessKeyId)).limit(1))[0];
    if (!row) return undefined;
    const identity = await this.identityOf(row);
    if (!identity) return undefined;
    return {
      accessKeyId: row.accessKeyId, secretAccessKey: row.secretAccessKey, accountId: row.accountId, identity,
      session: { tokenHash: row.tokenHash, expiresAt: row.expiresAt },
    };
  }

  private async identityOf(row: typeof stsSessions.$inferSelect): Promise<SessionIdentity | undefined> {
    const { accountId } = row;
    switch (row.kind) {
      case 'root':
        return { kind: 'root', accountId };
      case 'user': {
        const user = row.name === null ? undefined
          : (await this.db.select().from(iamUsers).where(and(eq(iamUsers.accountId, accountId), eq(iamUsers.name, row.name))).limit(1))[0];
        if (!user || user.userId !== row.principalId) return undefined;
        return { kind: 'user', accountId, name: user.name, id: user.userId, path: user.path };
      }
      case 'assumed-role': {
        const role = row.name === null ? undefined
          : (await this.db.select().from(iamRoles).where(and(eq(iamRoles.accountId, accountId), eq(iamRoles.name, row.name))).limit(1))[0];
        if (!role || role.roleId !== row.principalId || row.sessionName === null) return undefined;
        const identity: SessionIdentity = {
          kind: 'assumed-role', accountId, roleName: role.name, roleId: role.roleId, path: role.path, sessionName: row.sessionName,
        };
        const scope = scopeOf(row);
        return scope ? { ...identity, scope } : identity;
      }
      default:
        return undefined;
    }
  }

  /** End every session pcloud minted for `source` (an instance's profile removed, a function deleted). */
  async endFor(accountId: string, source: string): Promise<number> {
    const gone = await this.db.delete(stsSessions).where(and(eq(stsSessions.accountId, accountId), eq(stsSessions.source, source)))
      .returning({ id: stsSessions.accessKeyId });
    // forget(): a lookup of one in flight now does not keep it either.
    for (const { id } of gone) this.forget(id);
    // The other servers stop trusting these keys from their memory too (generation.ts).
    if (gone.length) await this.onEnded?.(accountId);
    return gone.length;
  }

  /** Delete the sessions that expired more than an hour ago; how many. */
  async sweep(): Promise<number> {
    return (await this.db.delete(stsSessions).where(lt(stsSessions.expiresAt, this.clock() - KEEP_EXPIRED_MS)).returning({ id: stsSessions.accessKeyId })).length;
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}

/** Whether the trust policy lets the service assume the role (a document this pcloud cannot read trusts no one). */
function serviceTrusted(trustPolicy: string, service: string): boolean {
  const trust = storedTrust(trustPolicy);
  return trust !== undefined && trustAllows(trust, { kind: 'service', service }, 'sts:AssumeRole');
}

/** A row's session policies and tags, if it has any. */
function scopeOf(row: typeof stsSessions.$inferSelect): SessionScope | undefined {
  if (row.sessionPolicies === null && row.tags === null) return undefined;
  const policies = row.sessionPolicies === null ? { policyArns: [] } : JSON.parse(row.sessionPolicies) as { policy?: string; policyArns: string[] };
  const tags = new Map<string, string>(row.tags === null ? [] : JSON.parse(row.tags) as [string, string][]);
  return { ...(policies.policy !== undefined ? { policy: policies.policy } : {}), policyArns: policies.policyArns, tags };
}
