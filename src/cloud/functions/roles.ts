/**
 * A function's execution role, as Lambda takes it: checked when it is given (CreateFunction, UpdateFunctionConfiguration
 * with Role): a role of the function's own account whose trust policy lets lambda.amazonaws.com sts:AssumeRole, that
 * the caller may pass (iam:PassRole); and the role's sessions minted for the function's processes (credentials.ts).
 * What IAM and STS answer comes through FunctionIdentity (iam-bridge.ts adapts cloud.iam to it).
 */
import type { SessionCredentials } from '../../host/index.js';
import { CloudError } from '../errors.js';
import { arnOf, type Identity } from '../iam/identity.js';
import { invalid } from './types.js';

/** What functions need of IAM and STS. */
export interface FunctionIdentity {
  /** Is there a role of this name and path in the account whose trust policy lets lambda.amazonaws.com assume it? */
  lambdaMayAssume(accountId: string, roleName: string, rolePath: string): boolean;
  /** May `caller` pass the role (iam:PassRole on its ARN)? */
  mayPassRole(caller: Identity, roleArn: string): boolean;
  /** A session of the role for a function (STS's mint: sessionName the function's name, source `function:NAME`). */
  mint(req: { accountId: string; roleName: string; sessionName: string; durationSeconds: number; source: string }): SessionCredentials;
  /** Every session minted for `source` in the account ended (their keys refused from now on). */
  endSessions(accountId: string, source: string): void;
}

/** Where a function's sessions come from: `function:NAME` (sts_sessions.source). */
export const functionSource = (name: string) => `function:${name}`;

/** A role ARN's account, path and name (its form is checked by params.ts' check()). */
export function parseRoleArn(arn: string): { accountId: string; path: string; name: string } | undefined {
  const m = /^arn:aws[a-z-]*:iam::(\d{12}):role(\/(?:[^/]+\/)*)?([^/]+)$/.exec(arn);
  if (!m) return undefined;
  return { accountId: m[1]!, path: m[2] ?? '/', name: m[3]! };
}

export const ROLE_NOT_ASSUMABLE = 'The role defined for the function cannot be assumed by Lambda.';

/**
 * The role given for a function of `accountId`: refused (InvalidParameterValueException, Lambda's words) unless it is a
 * role of that account Lambda may assume; a caller other than the account's root needs iam:PassRole on it
 * (AccessDeniedException as Lambda words it).
 */
export function checkRole(identity: FunctionIdentity, accountId: string, roleArn: string, caller?: Identity): void {
  const role = parseRoleArn(roleArn);
  if (caller && !identity.mayPassRole(caller, roleArn)) {
    throw new CloudError('AccessDeniedException', `User: ${arnOf(caller)} is not authorized to perform: iam:PassRole on resource: ${roleArn}`);
  }
  if (!role || role.accountId !== accountId || !identity.lambdaMayAssume(accountId, role.name, role.path)) throw invalid(ROLE_NOT_ASSUMABLE);
}
