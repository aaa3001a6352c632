/**
 * IAM roles: a name, a path, a trust policy (who may assume it), a description and the longest session it grants.
 * Deleting one that still has policies or is in an instance profile is a DeleteConflict, as AWS.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { iamAttachments, iamInlinePolicies, iamInstanceProfiles, iamRoles } from '../../db/schema.js';
import { CloudError } from '../errors.js';
import { checkDescription, checkName, checkPath, iamArn, iamId, invalid } from './names.js';
import { checkTags, type IamTags, type Tag } from './tags.js';
import { checkTrustPolicy } from './trust.js';

export type RoleRow = typeof iamRoles.$inferSelect;

export const ROLE_NAME_MAX = 64;
/** AWS's bounds of a role's MaxSessionDuration (seconds), and its default. */
export const MIN_SESSION = 3600;
export const MAX_SESSION = 43200;

export interface NewRole {
  name: string;
  path?: string;
  assumeRolePolicy: string;
  description?: string;
  maxSessionDuration?: number;
  tags?: readonly Tag[];
}

export const roleArn = (r: Pick<RoleRow, 'accountId' | 'path' | 'name'>) => iamArn(r.accountId, 'role', r.path, r.name);

function checkMaxSession(v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (v < MIN_SESSION) throw invalid('maxSessionDuration', String(v), `Member must have value greater than or equal to ${MIN_SESSION}`);
  if (v > MAX_SESSION) throw invalid('maxSessionDuration', String(v), `Member must have value less than or equal to ${MAX_SESSION}`);
  return v;
}

export class Roles {
  constructor(private readonly db: Db, private readonly tags: IamTags) {}

  /** The role of that name in the account (exactly), if any. */
  get(accountId: string, name: string): RoleRow | undefined {
    return this.db.select().from(iamRoles).where(and(eq(iamRoles.accountId, accountId), eq(iamRoles.name, name))).get();
  }

  /** The role, or NoSuchEntity as AWS words it. */
  require(accountId: string, name: string): RoleRow {
    const role = this.get(accountId, checkName('roleName', name, ROLE_NAME_MAX));
    if (!role) throw new CloudError('NoSuchEntity', `The role with name ${name} cannot be found.`);
    return role;
  }

  create(accountId: string, input: NewRole): RoleRow {
    const name = checkName('roleName', input.name, ROLE_NAME_MAX);
    const path = checkPath('path', input.path);
    const assumeRolePolicy = checkTrustPolicy('assumeRolePolicyDocument', input.assumeRolePolicy);
    const description = checkDescription(input.description);
    const maxSessionDuration = checkMaxSession(input.maxSessionDuration) ?? MIN_SESSION;
    const tags = checkTags(input.tags);
    return this.db.transaction((tx) => {
      // Role names are unique regardless of case, as AWS's.
      const clash = tx.select({ name: iamRoles.name }).from(iamRoles)
        .where(and(eq(iamRoles.accountId, accountId), sql`lower(${iamRoles.name}) = lower(${name})`)).get();
      if (clash) throw new CloudError('EntityAlreadyExists', `Role with name ${name} already exists.`);
      const row: RoleRow = {
        accountId, name, roleId: iamId('AROA'), path, assumeRolePolicy, description: description ?? null, maxSessionDuration,
        createdAt: Date.now(),
      };
      tx.insert(iamRoles).values(row).run();
      this.tags.put(accountId, 'role', name, tags, tx);
      return row;
    });
  }

  /** The account's roles under a path prefix, by name. */
  list(accountId: string, pathPrefix = '/'): RoleRow[] {
    return this.db.select().from(iamRoles).where(eq(iamRoles.accountId, accountId)).all()
      .filter((r) => r.path.startsWith(pathPrefix))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** UpdateRole: its description and/or its longest session. */
  update(accountId: string, name: string, change: { description?: string; maxSessionDuration?: number }): void {
    this.require(accountId, name);
    const description = checkDescription(change.description);
    const maxSessionDuration = checkMaxSession(change.maxSessionDuration);
    const set = { ...(description !== undefined ? { description } : {}), ...(maxSessionDuration !== undefined ? { maxSessionDuration } : {}) };
    if (Object.keys(set).length === 0) return;
    this.db.update(iamRoles).set(set).where(and(eq(iamRoles.accountId, accountId), eq(iamRoles.name, name))).run();
  }

  /** UpdateAssumeRolePolicy: a new trust policy. */
  updateTrust(accountId: string, name: string, document: string): void {
    this.require(accountId, name);
    const assumeRolePolicy = checkTrustPolicy('policyDocument', document);
    this.db.update(iamRoles).set({ assumeRolePolicy }).where(and(eq(iamRoles.accountId, accountId), eq(iamRoles.name, name))).run();
  }

  delete(accountId: string, name: string): void {
    checkName('roleName', name, ROLE_NAME_MAX);
    this.db.transaction((tx) => {
      const role = tx.select().from(iamRoles).where(and(eq(iamRoles.accountId, accountId), eq(iamRoles.name, name))).get();
      if (!role) throw new CloudError('NoSuchEntity', `The role with name ${name} cannot be found.`);
      const inProfile = tx.select({ n: iamInstanceProfiles.name }).from(iamInstanceProfiles)
        .where(and(eq(iamInstanceProfiles.accountId, accountId), eq(iamInstanceProfiles.roleName, name))).limit(1).get();
      if (inProfile) throw new CloudError('DeleteConflict', 'Cannot delete entity, must remove roles from instance profile first.');
      const attached = tx.select({ n: iamAttachments.policyArn }).from(iamAttachments)
        .where(and(eq(iamAttachments.accountId, accountId), eq(iamAttachments.principalKind, 'role'), eq(iamAttachments.principalName, name))).limit(1).get();
      if (attached) throw new CloudError('DeleteConflict', 'Cannot delete entity, must detach all policies first.');
      const inline = tx.select({ n: iamInlinePolicies.policyName }).from(iamInlinePolicies)
        .where(and(eq(iamInlinePolicies.accountId, accountId), eq(iamInlinePolicies.principalKind, 'role'), eq(iamInlinePolicies.principalName, name))).limit(1).get();
      if (inline) throw new CloudError('DeleteConflict', 'Cannot delete entity, must delete policies first.');
      this.tags.clear(accountId, 'role', name, tx);
      tx.delete(iamRoles).where(and(eq(iamRoles.accountId, accountId), eq(iamRoles.name, name))).run();
    });
  }

  count(accountId: string): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(iamRoles).where(eq(iamRoles.accountId, accountId)).get()?.n ?? 0;
  }
}
