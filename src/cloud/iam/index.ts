/**
 * IAM and STS, the domain: users and their access keys (users.ts), roles (roles.ts), managed and inline policies
 * (policies.ts, with AWS's managed ones in managed/), instance profiles and their instances (profiles.ts), temporary
 * credentials (sessions.ts), the policy language (policy/) and the decision every request gets (authorize.ts).
 */
import type { Db } from '../../db/index.js';
import type { Wakeups } from '../../db/wakeups.js';
import { IamChanges } from './generation.js';
import type { AccessKey, Accounts } from '../accounts.js';
import type { CloudConfig } from '../config.js';
import { CloudError } from '../errors.js';
import { deniedMessage, identityContext, type AccessRequest, type Decision } from './authorize.js';
import { decide } from './decide.js';
import { entityArn, type EntityKind } from './entities.js';
import type { Identity } from './identity.js';
import { accountSummary } from './account.js';
import { AccessKeys } from './keys.js';
import { Policies } from './policies.js';
import { Profiles } from './profiles.js';
import { Roles } from './roles.js';
import { Sessions, type SessionIdentity } from './sessions.js';
import { IamTags } from './tags.js';
import { Users } from './users.js';

export class Iam {
  // iam-core: users, access keys, roles, instance profiles and their tags.
  readonly tags: IamTags;
  readonly users: Users;
  readonly keys: AccessKeys;
  readonly roles: Roles;
  readonly profiles: Profiles;
  /** Temporary credentials: AssumeRole's, GetSessionToken's, and those pcloud mints for instances and functions. */
  readonly sessions: Sessions;
  /** Managed and inline policies, their attachments, and what applies to whom (documentsFor). */
  readonly policies: Policies;

  /** Other servers' changes of IAM, and this one's told to them (generation.ts). */
  private readonly changes: IamChanges;

  constructor(readonly db: Db, readonly accounts: Accounts, readonly config: CloudConfig, wakeups: Wakeups) {
    this.changes = new IamChanges(db, wakeups);
    this.tags = new IamTags(db);
    this.users = new Users(db, accounts, this.tags);
    this.keys = new AccessKeys(db, accounts, this.users);
    this.roles = new Roles(db, this.tags);
    this.profiles = new Profiles(db, this.roles, this.tags);
    this.sessions = new Sessions(db);
    this.sessions.onEnded = (accountId) => this.changes.moved(accountId);
    this.policies = new Policies(db, this.tags);
  }

  /** The key that signs as `accessKeyId`: temporary credentials (ASIA…), else a long-term one (root's, a user's). */
  async findKey(accessKeyId: string): Promise<AccessKey | undefined> {
    await this.freshen();
    return (await this.sessions.findKey(accessKeyId)) ?? (await this.accounts.findKey(accessKeyId));
  }

  /** GetAccountSummary's SummaryMap for the account. */
  async summary(accountId: string): Promise<Record<string, number>> {
    return await accountSummary(this.db, accountId, {
      users: await this.users.count(accountId), roles: await this.roles.count(accountId), instanceProfiles: await this.profiles.count(accountId),
    });
  }

  /**
   * May `identity` do what `req` asks? The identity's own condition keys (aws:PrincipalArn, aws:username,
   * aws:PrincipalTag/…) are added to those the caller gives (aws:SourceIp, aws:RequestedRegion, …).
   */
  async authorize(identity: Identity, req: AccessRequest): Promise<Decision> {
    await this.freshen();
    if (identity.kind === 'root') return decide(identity, req, { identity: [] });
    // A session's scope (sessions.ts): its tags over the role's (aws:PrincipalTag/…), its policies bounding the role's.
    const scope = (identity as SessionIdentity).scope;
    const tags = scope?.tags.size ? new Map([...await this.policies.principalTags(identity), ...scope.tags]) : (await this.policies.principalTags(identity));
    const context = identityContext(identity, tags);
    if (req.context) for (const [k, v] of req.context) context.set(k, v);
    const limited = scope && (scope.policy !== undefined || scope.policyArns.length > 0);
    return decide(identity, { ...req, context }, {
      identity: await this.policies.documentsFor(identity),
      ...(limited ? { session: await this.policies.sessionPolicies(identity.accountId, scope.policy, scope.policyArns) } : {}),
    });
  }

  /** authorize(), throwing AccessDenied in AWS's words when refused (IAM's and STS's answer). */
  async require(identity: Identity, req: AccessRequest): Promise<void> {
    const d = await this.authorize(identity, req);
    if (!d.allowed) throw new CloudError('AccessDenied', deniedMessage(d));
  }

  /** The ARN of a user, role, instance profile or policy of the account by name (with its stored path, or `path`). */
  async entityArn(accountId: string, kind: EntityKind, name: string, path?: string): Promise<string> {
    return await entityArn(this.db, accountId, kind, name, path);
  }

  /**
   * Every IAM write (of `accountId`) that may change what someone is allowed calls this: the documents kept in memory
   * are dropped, here and on every other server of the database (generation.ts).
   */
  async changed(accountId: string): Promise<void> {
    this.forget();
    await this.changes.moved(accountId);
  }

  /** Another server changed IAM (its notice heard, or heard again after the notices were lost): memory dropped. */
  told(): void {
    this.forget();
    this.accounts.forgetAll();
  }

  /** What this server keeps in memory of IAM, dropped. */
  private forget(): void {
    this.policies.changed();
    this.sessions.changed();
  }

  /**
   * Another server's changes: what this server keeps in memory (documents, sessions, keys) is dropped when another one
   * may have changed IAM since it last looked (generation.ts), so a policy detached or a key deleted through one server
   * stops working on every other as soon as it is told (within milliseconds), or at its next request where it reads.
   */
  private async freshen(): Promise<void> {
    if (await this.changes.changedElsewhere()) this.told();
  }
}
