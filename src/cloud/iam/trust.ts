/**
 * A role's trust policy (AssumeRolePolicyDocument) as CreateRole and UpdateAssumeRolePolicy take it: text the model
 * allows, within AWS's size quota (ACLSizePerRole), a trust policy by the policy language, and every user or role it
 * names existing (AWS refuses a principal it cannot find, in its words).
 */
import { CloudError } from '../errors.js';
import { checkDocumentText } from './names.js';
import { cachedPolicy, namedPrincipals, parsePolicy, policyMessages, policySize, POLICY_SIZE, type Policy } from './policy/index.js';

/** AWS's quota on a trust policy's size (whitespace not counted). */
export const TRUST_POLICY_MAX = POLICY_SIZE.trust;

/** A stored trust policy, parsed; undefined for one this pcloud cannot read (it trusts no one). */
export function storedTrust(doc: string): Policy | undefined {
  try {
    return cachedPolicy(doc, 'trust');
  } catch (err) {
    if (err instanceof CloudError) return undefined;
    throw err;
  }
}

/** The document, checked; `exists` says whether a user or role ARN it names is there. */
export async function checkTrustPolicy(member: string, doc: string, exists: (arn: string) => Promise<boolean>): Promise<string> {
  checkDocumentText(member, doc);
  if (policySize(doc) > TRUST_POLICY_MAX) throw new CloudError('LimitExceeded', `Cannot exceed quota for ACLSizePerRole: ${TRUST_POLICY_MAX}`);
  const policy = parsePolicy(doc, 'trust');
  for (const arn of namedPrincipals(policy)) {
    if (/^arn:aws:iam::\d{12}:(user|role)\//.test(arn) && !await exists(arn)) {
      throw new CloudError('MalformedPolicyDocument', policyMessages.invalidPrincipal('AWS', arn));
    }
  }
  return doc;
}
