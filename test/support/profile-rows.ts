/**
 * Instance profile rows written straight into the database, for tests of what uses them (EC2's IamInstanceProfile, the
 * metadata service's credentials) without the IAM API that makes them.
 */
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../src/db/index.js';
import { iamInstanceProfiles } from '../../src/db/schema.js';
import { iamId } from '../../src/cloud/iam/names.js';

export async function putProfile(db: Db, p: { accountId: string; name: string; roleName?: string; path?: string; createdAt?: number }): Promise<{ profileId: string; arn: string }> {
  const profileId = iamId('AIPA');
  const path = p.path ?? '/';
  await db.insert(iamInstanceProfiles).values({
    accountId: p.accountId, name: p.name, profileId, path, roleName: p.roleName ?? null, createdAt: p.createdAt ?? Date.now(),
  });
  return { profileId, arn: `arn:aws:iam::${p.accountId}:instance-profile${path}${p.name}` };
}

export async function dropProfile(db: Db, accountId: string, name: string): Promise<void> {
  await db.delete(iamInstanceProfiles).where(and(eq(iamInstanceProfiles.accountId, accountId), eq(iamInstanceProfiles.name, name)));
}

/** Put another role in the profile (or none): RemoveRoleFromInstanceProfile / AddRoleToInstanceProfile. */
export async function setProfileRole(db: Db, accountId: string, name: string, roleName: string | null): Promise<void> {
  await db.update(iamInstanceProfiles).set({ roleName })
    .where(and(eq(iamInstanceProfiles.accountId, accountId), eq(iamInstanceProfiles.name, name)));
}
