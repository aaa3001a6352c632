/**
 * IAM and STS, the domain: users and their access keys (users.ts), roles (roles.ts), managed and inline policies
 * (policies.ts, with AWS's managed ones in managed/), instance profiles and their instances (profiles.ts), temporary
 * credentials (sessions.ts), the policy language (policy/) and the decision every request gets (authorize.ts).
 */
import type { Db } from '../../db/index.js';
import type { AccessKey, Accounts } from '../accounts.js';
import type { CloudConfig } from '../config.js';
import { decide, type AccessRequest, type Decision } from './authorize.js';
import type { Identity } from './identity.js';
import { Profiles } from './profiles.js';
import { Roles } from './roles.js';
import { Sessions } from './sessions.js';
import { IamTags } from './tags.js';

export class Iam {
  // iam-core: users, access keys, roles, instance profiles and their tags.
  readonly tags: IamTags;
  readonly roles: Roles;
  readonly profiles: Profiles;
  /** Temporary credentials: AssumeRole's, GetSessionToken's, and those pcloud mints for instances and functions. */
  readonly sessions: Sessions;

  constructor(readonly db: Db, readonly accounts: Accounts, readonly config: CloudConfig) {
    this.tags = new IamTags(db);
    this.roles = new Roles(db, this.tags);
    this.profiles = new Profiles(db, this.roles, this.tags);
    this.sessions = new Sessions(db);
  }

  /** The key that signs as `accessKeyId`: a long-term one (root's, a user's), else temporary credentials. */
  findKey(accessKeyId: string): AccessKey | undefined {
    return this.accounts.findKey(accessKeyId) ?? this.sessions.findKey(accessKeyId);
  }

  /** May `identity` do what `req` asks? */
  authorize(identity: Identity, req: AccessRequest): Decision {
    return decide(identity, req);
  }
}
