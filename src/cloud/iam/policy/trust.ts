/**
 * Trust policies: may this caller assume the role (sts:AssumeRole, or another sts: action such as sts:TagSession)?
 * A statement applies when its action matches, its Principal names the caller (or its NotPrincipal does not) and its
 * conditions hold; a Deny that applies refuses, else an Allow that applies allows. An account (`ACCOUNT` or its root
 * ARN) names every principal of that account; a role's ARN names that role's sessions too.
 */
import { arnParts } from './arn.js';
import { RequestContext } from './context.js';
import { actionApplies, conditionsHold } from './evaluate.js';
import type { Lookup } from './template.js';
import type { Policy, Principals } from './types.js';

/** Who asks to assume the role: a principal of an account (its ARN), or a service (`lambda.amazonaws.com`). */
export type TrustCaller = { kind: 'aws'; arn: string; accountId: string } | { kind: 'service'; service: string };

function roleOfSession(arn: string): { account: string; role: string } | undefined {
  const p = arnParts(arn);
  if (!p || p[2] !== 'sts' || !p[5]!.startsWith('assumed-role/')) return undefined;
  const role = p[5]!.split('/')[1];
  return role ? { account: p[4]!, role } : undefined;
}

export function principalMatches(p: Principals, who: TrustCaller): boolean {
  if (p.any) return true;
  if (who.kind === 'service') return p.service.includes(who.service.toLowerCase());
  const session = roleOfSession(who.arn);
  for (const a of p.aws) {
    if (a === who.accountId || a === who.arn) return true;
    if (session && a.startsWith(`arn:aws:iam::${session.account}:role/`) && a.slice(a.lastIndexOf('/') + 1) === session.role) return true;
  }
  return false;
}

/** Whether the trust policy lets `who` perform `action` (e.g. sts:AssumeRole) on the role, with the request's keys. */
export function trustAllows(trust: Policy, who: TrustCaller, action: string, context?: ReadonlyMap<string, string | readonly string[]>): boolean {
  const keys = new Map(context ?? []);
  const add = (k: string, v: string) => { if (![...keys.keys()].some((x) => x.toLowerCase() === k.toLowerCase())) keys.set(k, v); };
  if (who.kind === 'aws') {
    add('aws:PrincipalArn', who.arn);
    add('aws:PrincipalAccount', who.accountId);
  } else {
    add('aws:PrincipalServiceName', who.service);
  }
  const lookup: Lookup = new RequestContext(keys).forResource(undefined);
  const act = action.toLowerCase();
  let allowed = false;
  for (const s of trust.statements) {
    if (!actionApplies(s, act)) continue;
    if (s.principal && !principalMatches(s.principal, who)) continue;
    if (s.notPrincipal && principalMatches(s.notPrincipal, who)) continue;
    if (!s.principal && !s.notPrincipal) continue;
    if (!conditionsHold(s, lookup)) continue;
    if (s.effect === 'Deny') return false;
    allowed = true;
  }
  return allowed;
}
