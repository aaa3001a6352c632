/**
 * FunctionIdentity (roles.ts) over the cloud's IAM and STS: roles (cloud.iam.roles), their trust policies read by the
 * policy language (trustAllows with lambda.amazonaws.com as the caller), sessions minted (as lambda.amazonaws.com)
 * and ended by cloud.iam.sessions.
 */
import type { Iam } from '../iam/index.js';
import { trustAllows } from '../iam/policy/index.js';
import { storedTrust } from '../iam/trust.js';
import type { FunctionIdentity } from './roles.js';

/** The service principal Lambda assumes roles as. */
export const LAMBDA_SERVICE = 'lambda.amazonaws.com';

export function functionIdentity(iam: Iam): FunctionIdentity {
  return {
    async lambdaMayAssume(accountId, roleName, rolePath) {
      const role = await iam.roles.get(accountId, roleName);
      if (!role || role.path !== rolePath) return false;
      // (A trust policy this pcloud cannot read trusts no one.)
      const trust = storedTrust(role.assumeRolePolicy);
      return trust !== undefined && trustAllows(trust, { kind: 'service', service: LAMBDA_SERVICE }, 'sts:AssumeRole');
    },
    // As Lambda: a role whose trust policy no longer lets Lambda in gives its functions no credentials.
    mint: async (req) => await iam.sessions.mint({ ...req, service: LAMBDA_SERVICE }),
    async endSessions(accountId, source) {
      await iam.sessions.endFor(accountId, source);
    },
  };
}
