/**
 * The decision: the account's root may do everything; a user or a role session what its policies allow (explicit
 * Deny > Allow > implicit deny, policy/), within its session policies when it has any.
 */
import type { AccessRequest, Decision } from './authorize.js';
import { arnOf, type Identity } from './identity.js';
import { explain, type Policy } from './policy/index.js';

/** The policies a request is evaluated against: the identity's, and a session's (AssumeRole Policy/PolicyArns) if any. */
export interface PolicySet {
  identity: readonly Policy[];
  /** Session policies bound what the identity's allow: both must allow. */
  session?: readonly Policy[];
}

const ALLOWED: Decision = { allowed: true };

/** The decision for one request. */
export function decide(identity: Identity, req: AccessRequest, policies: PolicySet = { identity: [] }): Decision {
  if (identity.kind === 'root') return ALLOWED;
  const own = explain(policies.identity, req);
  const session = policies.session ? explain(policies.session, req) : undefined;
  if (own.result === 'allow' && (!session || session.result === 'allow')) return ALLOWED;
  // The refusal AWS reports: an explicit Deny first, else what allowed nothing.
  const why = own.result === 'deny' ? own : session?.result === 'deny' ? session : own.result !== 'allow' || !session ? own : session;
  return {
    allowed: false, explicit: why.result === 'deny', resource: why.resource ?? req.resources[0]?.arn ?? '*', principalArn: arnOf(identity), action: req.action,
  };
}

