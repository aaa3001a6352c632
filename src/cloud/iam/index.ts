/**
 * IAM and STS, the domain: users and their access keys (users.ts), roles (roles.ts), managed and inline policies
 * (policies.ts, with AWS's managed ones in managed/), instance profiles and their instances (profiles.ts), temporary
 * credentials (sessions.ts), the policy language (policy/) and the decision every request gets (authorize.ts).
 */
import type { Db } from '../../db/index.js';
import type { Accounts } from '../accounts.js';
import type { CloudConfig } from '../config.js';
import { decide, type AccessRequest, type Decision } from './authorize.js';
import type { Identity } from './identity.js';
import { accountSummary } from './account.js';
import { AccessKeys } from './keys.js';
import { Profiles } from './profiles.js';
import { Roles } from './roles.js';
import { IamTags } from './tags.js';
import { Users } from './users.js';

export class Iam {
  // iam-core: users, access keys, roles, instance profiles and their tags.
  readonly tags: IamTags;
  readonly users: Users;
  readonly keys: AccessKeys;
  readonly roles: Roles;
  readonly profiles: Profiles;

  constructor(readonly db: Db, readonly accounts: Accounts, readonly config: CloudConfig) {
    this.tags = new IamTags(db);
    this.users = new Users(db, accounts, this.tags);
    this.keys = new AccessKeys(db, accounts, this.users);
    this.roles = new Roles(db, this.tags);
    this.profiles = new Profiles(db, this.roles, this.tags);
  }

  /** GetAccountSummary's SummaryMap for the account. */
  summary(accountId: string): Record<string, number> {
    return accountSummary(this.db, accountId, {
      users: this.users.count(accountId), roles: this.roles.count(accountId), instanceProfiles: this.profiles.count(accountId),
    });
  }

  /** May `identity` do what `req` asks? */
  authorize(identity: Identity, req: AccessRequest): Decision {
    return decide(identity, req);
  }
}
