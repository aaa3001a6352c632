/**
 * The ARN of a user, role, instance profile or customer managed policy by its name: with its path as stored (an ARN
 * has it), `/` for one that does not exist (yet: what CreateX is asked for). What IAM's own requests are authorized on.
 */
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { iamInstanceProfiles, iamPolicies, iamRoles, iamUsers } from '../../db/tables.js';
import { iamArn } from './names.js';

export type EntityKind = 'user' | 'role' | 'instance-profile' | 'policy';

const TABLES = {
  user: iamUsers, role: iamRoles, 'instance-profile': iamInstanceProfiles, policy: iamPolicies,
} as const;

export async function entityArn(db: Db, accountId: string, kind: EntityKind, name: string, path?: string): Promise<string> {
  const t = TABLES[kind];
  const stored = path ?? (await db.select({ path: t.path }).from(t).where(and(eq(t.accountId, accountId), eq(t.name, name))).limit(1))[0]?.path;
  return iamArn(accountId, kind, stored ?? '/', name);
}
