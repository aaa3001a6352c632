/**
 * A role's trust policy (AssumeRolePolicyDocument) as CreateRole and UpdateAssumeRolePolicy take it: text the model
 * allows, within AWS's size quota, and a policy document. Until the policy language (policy/) is merged this checks
 * the document's outline only (JSON, a Statement of Allow/Deny with an Action and a Principal).
 */
import { CloudError } from '../errors.js';
import { checkDocumentText } from './names.js';

/** AWS's quota on a trust policy's size (whitespace not counted). */
export const TRUST_POLICY_MAX = 2048;

const malformed = (why: string) => new CloudError('MalformedPolicyDocument', why);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkTrustPolicy(member: string, doc: string): string {
  checkDocumentText(member, doc);
  if (doc.replace(/\s/g, '').length > TRUST_POLICY_MAX) throw new CloudError('LimitExceeded', `Cannot exceed quota for ACLSizePerRole: ${TRUST_POLICY_MAX}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(doc);
  } catch {
    throw malformed('This policy contains invalid Json');
  }
  if (!isObject(parsed) || !Object.hasOwn(parsed, 'Statement')) throw malformed('Syntax errors in policy.');
  const stmts = Array.isArray(parsed.Statement) ? parsed.Statement : [parsed.Statement];
  if (stmts.length === 0) throw malformed('Syntax errors in policy.');
  for (const s of stmts) {
    if (!isObject(s)) throw malformed('Syntax errors in policy.');
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw malformed('Invalid effect: ' + String(s.Effect).slice(0, 32));
    if (!Object.hasOwn(s, 'Action') && !Object.hasOwn(s, 'NotAction')) throw malformed('Policy statement must contain actions.');
    if (!Object.hasOwn(s, 'Principal') && !Object.hasOwn(s, 'NotPrincipal')) throw malformed('AssumeRolepolicy contained an invalid principal element');
  }
  return doc;
}
