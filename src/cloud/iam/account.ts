/** The account's IAM summary (GetAccountSummary): what it holds, and the quotas pcloud keeps (AWS's defaults). */
import { and, count as countAll, countDistinct, eq, isNull } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { accessKeys, iamAttachments, iamPolicies } from '../../db/tables.js';
import { KEYS_PER_USER } from './keys.js';
import { TRUST_POLICY_MAX } from './trust.js';

/** AWS's default quotas, by the SummaryMap's names. */
const QUOTAS = {
  UsersQuota: 5000, GroupsQuota: 300, RolesQuota: 1000, InstanceProfilesQuota: 1000, PoliciesQuota: 1500, ServerCertificatesQuota: 20,
  AccessKeysPerUserQuota: KEYS_PER_USER, SigningCertificatesPerUserQuota: 2, GroupsPerUserQuota: 10,
  AttachedPoliciesPerUserQuota: 10, AttachedPoliciesPerRoleQuota: 10, AttachedPoliciesPerGroupQuota: 10,
  UserPolicySizeQuota: 2048, RolePolicySizeQuota: 10240, GroupPolicySizeQuota: 5120, PolicySizeQuota: 6144,
  AssumeRolePolicySizeQuota: TRUST_POLICY_MAX, VersionsPerPolicyQuota: 5, PolicyVersionsInUseQuota: 10000,
  GlobalEndpointTokenVersion: 1,
} as const;


export interface Counts {
  users: number;
  roles: number;
  instanceProfiles: number;
}

/** The SummaryMap: counts of what the account has (those pcloud has no such thing of are 0), then the quotas. */
export async function accountSummary(db: Db, accountId: string, counts: Counts): Promise<Record<string, number>> {
  const count = (q: { n: number } | undefined) => q?.n ?? 0;
  const policies = count((await db.select({ n: countAll() }).from(iamPolicies).where(eq(iamPolicies.accountId, accountId)).limit(1))[0]);
  const inUse = count((await db.select({ n: countDistinct(iamAttachments.policyArn) }).from(iamAttachments)
    .where(eq(iamAttachments.accountId, accountId)).limit(1))[0]);
  const rootKeys = count((await db.select({ n: countAll() }).from(accessKeys)
    .where(and(eq(accessKeys.accountId, accountId), isNull(accessKeys.userName))).limit(1))[0]);
  return {
    Users: counts.users, Roles: counts.roles, InstanceProfiles: counts.instanceProfiles, Policies: policies,
    PolicyVersionsInUse: inUse, Groups: 0, ServerCertificates: 0, Providers: 0, MFADevices: 0, MFADevicesInUse: 0,
    AccountMFAEnabled: 0, AccountAccessKeysPresent: rootKeys > 0 ? 1 : 0, AccountSigningCertificatesPresent: 0,
    ...QUOTAS,
  };
}
