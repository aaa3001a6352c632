/**
 * AssumeRole, the decision: the role named by its ARN (in the caller's account or another pcloud account), its trust
 * policy allowing the caller (with sts:ExternalId, the session name, the source address as conditions), a caller
 * other than root also allowed sts:AssumeRole on the role by its own policies, a duration within the role's
 * MaxSessionDuration; then a role session minted (sessions.ts). A role that does not exist is refused exactly as one
 * that does not trust the caller: no one learns which roles another account has.
 */
import { CloudError } from '../errors.js';
import { arnOf, principalArnOf, type Identity } from './identity.js';
import type { Iam } from './index.js';
import { parsePolicy, trustAllows } from './policy/index.js';
import { storedTrust } from './trust.js';
import type { Credentials } from './sessions.js';

export interface AssumeRequest {
  roleArn: string;
  sessionName: string;
  durationSeconds?: number;
  externalId?: string;
  /** Session policies: an inline document, managed policies' ARNs. */
  policy?: string;
  policyArns?: readonly string[];
  /** Session tags (keys distinct regardless of case: the API checks). */
  tags?: ReadonlyMap<string, string>;
  sourceIp?: string;
  region?: string;
}

export interface Assumed {
  credentials: Credentials;
  /** `ROLEID:session` */
  assumedRoleId: string;
  /** `arn:aws:sts::ACCOUNT:assumed-role/ROLE/session` */
  arn: string;
}

/** A role's ARN: its account, path and name (IAM's path and name rules). */
const ROLE_ARN = /^arn:aws:iam::(\d{12}):role(\/(?:[\x21-\x7E]*\/)?)([\w+=,.@-]{1,64})$/;

/** A session assumed by a role session (role chaining) lasts an hour at most, as on AWS. */
const CHAINED_MAX_S = 3600;
const DEFAULT_S = 3600;


export function denied(caller: Identity, action: string, resource: string): CloudError {
  return new CloudError('AccessDenied', `User: ${arnOf(caller)} is not authorized to perform: ${action} on resource: ${resource}`);
}

/** The condition keys an AssumeRole request carries (the policy language adds the clock's). */
function contextOf(caller: Identity, req: AssumeRequest): Map<string, string | readonly string[]> {
  const ctx = new Map<string, string | readonly string[]>([
    ['aws:principalarn', principalArnOf(caller)],
    ['aws:principalaccount', caller.accountId],
    ['aws:principaltype', caller.kind === 'root' ? 'Account' : caller.kind === 'user' ? 'User' : 'AssumedRole'],
    ['sts:rolesessionname', req.sessionName],
  ]);
  if (caller.kind === 'user') ctx.set('aws:username', caller.name);
  if (req.externalId !== undefined) ctx.set('sts:externalid', req.externalId);
  if (req.sourceIp) ctx.set('aws:sourceip', req.sourceIp);
  if (req.region) ctx.set('aws:requestedregion', req.region);
  if (req.tags?.size) {
    ctx.set('aws:tagkeys', [...req.tags.keys()]);
    for (const [k, v] of req.tags) ctx.set(`aws:requesttag/${k.toLowerCase()}`, v);
  }
  return ctx;
}

export async function assumeRole(iam: Iam, caller: Identity, req: AssumeRequest): Promise<Assumed> {
  const m = ROLE_ARN.exec(req.roleArn);
  if (!m) throw new CloudError('ValidationError', 'Request ARN is invalid');
  const [, accountId, path, name] = m as unknown as [string, string, string, string];
  const role = await iam.roles.get(accountId, name);
  if (!role || role.path !== path) throw denied(caller, 'sts:AssumeRole', req.roleArn);

  // A session policy is a policy like any other: malformed, it is refused in the policy language's words.
  if (req.policy !== undefined) parsePolicy(req.policy, 'identity');
  // Sessions keep their policies (sessions.ts, identity.scope): the decision intersects them with the role's (decide.ts).
  const context = contextOf(caller, req);
  const who = { kind: 'aws' as const, arn: arnOf(caller), accountId: caller.accountId };
  // A stored trust policy this pcloud cannot read trusts no one.
  const trust = storedTrust(role.assumeRolePolicy);
  if (!trust || !trustAllows(trust, who, 'sts:AssumeRole', context)) throw denied(caller, 'sts:AssumeRole', req.roleArn);
  // Session tags need the trust policy's sts:TagSession too.
  if (req.tags?.size && !trustAllows(trust, who, 'sts:TagSession', context)) throw denied(caller, 'sts:TagSession', req.roleArn);
  if (caller.kind !== 'root') {
    const decision = await iam.authorize(caller, { action: 'sts:AssumeRole', resources: [{ arn: req.roleArn }], context });
    if (!decision.allowed) throw denied(caller, 'sts:AssumeRole', req.roleArn);
  }

  const durationSeconds = req.durationSeconds ?? DEFAULT_S;
  if (caller.kind === 'assumed-role' && durationSeconds > CHAINED_MAX_S) {
    throw new CloudError('ValidationError', 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
  }
  if (durationSeconds > role.maxSessionDuration) {
    throw new CloudError('ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
  }
  const credentials = await iam.sessions.mint({
    accountId, roleName: role.name, sessionName: req.sessionName, durationSeconds,
    ...(req.policy !== undefined ? { policy: req.policy } : {}), ...(req.policyArns ? { policyArns: req.policyArns } : {}),
    ...(req.tags ? { tags: req.tags } : {}),
  });
  return {
    credentials,
    assumedRoleId: `${role.roleId}:${req.sessionName}`,
    arn: `arn:aws:sts::${accountId}:assumed-role/${role.name}/${req.sessionName}`,
  };
}
