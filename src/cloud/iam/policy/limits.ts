/**
 * IAM's size quotas for policy documents, counted as AWS counts them: characters other than whitespace. Enforcing
 * them is the callers' (LimitExceeded, "Cannot exceed quota for PolicySize: 6144", …): the parser reads any size.
 */
export const POLICY_SIZE = {
  /** A customer managed policy (CreatePolicy, CreatePolicyVersion): PolicySize. */
  managed: 6144,
  /** All inline policies of one role together: RolePolicySize. */
  roleInline: 10240,
  /** All inline policies of one user together: UserPolicySize. */
  userInline: 2048,
  /** A role's trust policy: ACLSizePerRole (AWS's default quota). */
  trust: 2048,
} as const;

/** The size AWS charges a document: its characters, whitespace (outside nothing: all of it) not counted. */
export function policySize(json: string): number {
  let n = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) n++;
  }
  return n;
}
