/**
 * May this identity do this? The one question every API asks after SigV4 (EC2, Lambda, IAM, STS): what a request
 * asks (AccessRequest), the answer (Decision: decide.ts evaluates the policies), AWS's words for a refusal, and the
 * condition keys an identity brings. (The policy language reads these types: this file imports none of it.)
 */
import { principalArnOf, type Identity } from './identity.js';

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
  | {
    allowed: false; /** an explicit Deny, not only no Allow */ explicit: boolean; resource: string;
    /** Who asked and what, as AWS's message names them. */ principalArn: string; action: string;
  };

/**
 * AWS's words for a refusal: "User: ARN is not authorized to perform: ACTION on resource: ARN because no
 * identity-based policy allows the ACTION action" (or "with an explicit deny in an identity-based policy").
 */
export function deniedMessage(d: Extract<Decision, { allowed: false }>): string {
  const why = d.explicit ? 'with an explicit deny in an identity-based policy' : `because no identity-based policy allows the ${d.action} action`;
  return `User: ${d.principalArn} is not authorized to perform: ${d.action} on resource: ${d.resource} ${why}`;
}

/**
 * The condition keys an identity brings to every request (its tags: aws:PrincipalTag/KEY). aws:CurrentTime and
 * aws:EpochTime are the evaluation's, read from the clock only when a condition asks.
 */
export function identityContext(identity: Identity, tags: ReadonlyMap<string, string>): Map<string, string | readonly string[]> {
  const c = new Map<string, string | readonly string[]>();
  c.set('aws:PrincipalAccount', identity.accountId);
  c.set('aws:PrincipalArn', principalArnOf(identity));
  switch (identity.kind) {
    case 'root':
      c.set('aws:PrincipalType', 'Account');
      c.set('aws:userid', identity.accountId);
      break;
    case 'user':
      c.set('aws:PrincipalType', 'User');
      c.set('aws:username', identity.name);
      c.set('aws:userid', identity.id);
      break;
    case 'assumed-role':
      c.set('aws:PrincipalType', 'AssumedRole');
      c.set('aws:userid', `${identity.roleId}:${identity.sessionName}`);
      break;
  }
  for (const [k, v] of tags) c.set(`aws:PrincipalTag/${k}`, v);
  return c;
}
