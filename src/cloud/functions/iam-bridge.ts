/**
 * FunctionIdentity (roles.ts) over the cloud's IAM and STS: roles (cloud.iam.roles), their trust policies read by the
 * policy language (trustAllows with lambda.amazonaws.com as the caller), iam:PassRole decided by cloud.iam.authorize,
 * sessions minted and ended by cloud.iam.sessions.
 */
import { log } from '../../log.js';
import type { Iam } from '../iam/index.js';
import { parsePolicy, trustAllows } from '../iam/policy/index.js';
import { roleArn } from '../iam/roles.js';
import type { FunctionIdentity } from './roles.js';

/** The service principal Lambda assumes roles as. */
export const LAMBDA_SERVICE = 'lambda.amazonaws.com';

export function functionIdentity(iam: Iam): FunctionIdentity {
  return {
    lambdaMayAssume(accountId, roleName, rolePath) {
      const role = iam.roles.get(accountId, roleName);
      if (!role || role.path !== rolePath) return false;
      try {
        return trustAllows(parsePolicy(role.assumeRolePolicy, 'trust'), { kind: 'service', service: LAMBDA_SERVICE }, 'sts:AssumeRole');
      } catch (err) {
        // A trust policy stored before the policy language checked it: nobody may assume the role by it.
        log.warn(`the trust policy of ${roleArn(role)} does not parse: ${(err as Error).message}`);
        return false;
      }
    },
    mint: (req) => iam.sessions.mint(req),
    endSessions(accountId, source) {
      iam.sessions.endFor(accountId, source);
    },
  };
}
