/**
 * A function's execution role, as Lambda takes it: checked when it is given (CreateFunction, UpdateFunctionConfiguration
 * with Role): a role of the function's own account whose trust policy lets lambda.amazonaws.com sts:AssumeRole (whether
 * the caller may pass it, iam:PassRole, the API asks IAM before: src/api/lambda/index.ts); and the role's sessions
 * minted for the function's processes (credentials.ts).
 * What IAM and STS answer comes through FunctionIdentity (iam-bridge.ts adapts cloud.iam to it).
 */
import type { SessionCredentials } from '../../host/index.js';
import { invalid } from './types.js';

/** What functions need of IAM and STS. */
export interface FunctionIdentity {
  /** Is there a role of this name and path in the account whose trust policy lets lambda.amazonaws.com assume it? */
  lambdaMayAssume(accountId: string, roleName: string, rolePath: string): Promise<boolean>;
  /** A session of the role for a function (STS's mint: sessionName the function's name, source `function:NAME`). */
  mint(req: { accountId: string; roleName: string; sessionName: string; durationSeconds: number; source: string }): Promise<SessionCredentials>;
  /** Every session minted for `source` in the account ended (their keys refused from now on). */
  endSessions(accountId: string, source: string): Promise<void>;
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
 * role of that account Lambda may assume.
 */
export async function checkRole(identity: FunctionIdentity, accountId: string, roleArn: string): Promise<void> {
  const role = parseRoleArn(roleArn);
  if (!role || role.accountId !== accountId || !(await identity.lambdaMayAssume(accountId, role.name, role.path))) throw invalid(ROLE_NOT_ASSUMABLE);
}
