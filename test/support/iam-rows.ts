/**
 * IAM rows written straight into the database, for tests of what uses roles and users (sessions, STS) without going
 * through the IAM API that makes them.
 */
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../src/db/index.js';
import { iamRoles, iamUsers } from '../../src/db/schema.js';
import { iamId } from '../../src/cloud/iam/names.js';

/**
 * A trust policy letting the account's principals (its root, and whom its policies allow) assume the role, and EC2
 * (its instances' profiles).
 */
export const trustAccount = (accountId: string) => JSON.stringify({
  Version: '2012-10-17', Statement: [
    { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: 'sts:AssumeRole' },
    { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ],
});

export async function putRole(db: Db, r: { accountId: string; name: string; trust?: string; path?: string; maxSessionDuration?: number }): Promise<{ roleId: string; arn: string }> {
  const roleId = iamId('AROA');
  const path = r.path ?? '/';
  await db.insert(iamRoles).values({
    accountId: r.accountId, name: r.name, roleId, path, assumeRolePolicy: r.trust ?? trustAccount(r.accountId),
    maxSessionDuration: r.maxSessionDuration ?? 3600, createdAt: Date.now(),
  });
  return { roleId, arn: `arn:aws:iam::${r.accountId}:role${path}${r.name}` };
}

export async function dropRole(db: Db, accountId: string, name: string): Promise<void> {
  await db.delete(iamRoles).where(and(eq(iamRoles.accountId, accountId), eq(iamRoles.name, name)));
}

export async function putUser(db: Db, u: { accountId: string; name: string; path?: string }): Promise<{ userId: string; arn: string }> {
  const userId = iamId('AIDA');
  const path = u.path ?? '/';
  await db.insert(iamUsers).values({ accountId: u.accountId, name: u.name, userId, path, createdAt: Date.now() });
  return { userId, arn: `arn:aws:iam::${u.accountId}:user${path}${u.name}` };
}

export async function dropUser(db: Db, accountId: string, name: string): Promise<void> {
  await db.delete(iamUsers).where(and(eq(iamUsers.accountId, accountId), eq(iamUsers.name, name)));
}
