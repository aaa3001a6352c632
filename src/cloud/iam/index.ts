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

export class Iam {
  constructor(readonly db: Db, readonly accounts: Accounts, readonly config: CloudConfig) {}

  /** May `identity` do what `req` asks? */
  authorize(identity: Identity, req: AccessRequest): Decision {
    return decide(identity, req);
  }
}
