/**
 * May this identity do this? The one question every API asks after SigV4 (EC2, Lambda, IAM, STS), answered by IAM's
 * policy evaluation: the account's root may do everything; a user or a role session what its policies allow
 * (explicit Deny > Allow > implicit deny).
 */
import type { Identity } from './identity.js';

/** One resource a request acts on: its ARN, and its tags where the service has them (ec2:ResourceTag/…). */
export interface ResourceRef {
  arn: string;
  tags?: ReadonlyMap<string, string>;
}

/** What a request asks: `service:Action`, the resources (`*` where the action has none), the condition keys' values. */
export interface AccessRequest {
  action: string;
  resources: readonly ResourceRef[];
  /** Condition keys (aws:SourceIp, aws:RequestedRegion, ec2:InstanceType, …) and their values. */
  context?: ReadonlyMap<string, string | readonly string[]>;
}

export type Decision =
  | { allowed: true }
  | { allowed: false; /** an explicit Deny, not only no Allow */ explicit: boolean; resource: string };

/** The decision for one request. */
export function decide(identity: Identity, req: AccessRequest): Decision {
  if (identity.kind === 'root') return { allowed: true };
  // Until policies are evaluated (issue 16's policy engine), nobody but root may do anything: closed by default.
  return { allowed: false, explicit: false, resource: req.resources[0]?.arn ?? '*' };
}
