/**
 * IAM roles: a name, a path, a trust policy (who may assume it), a description and the longest session it grants.
 * Deleting one that still has policies or is in an instance profile is a DeleteConflict, as AWS.
 */
import { and, count, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/index.js';
import { iamAttachments, iamInlinePolicies, iamInstanceProfiles, iamRoles, iamUsers } from '../../db/tables.js';
import { CloudError } from '../errors.js';
import { checkDescription, checkName, checkPath, iamArn, iamId, invalid } from './names.js';
import { checkTags, type IamTags, type Tag } from './tags.js';
import { checkTrustPolicy } from './trust.js';
import { write } from '../../db/store.js';

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
  async get(accountId: string, name: string): Promise<RoleRow | undefined> {
    return (await this.db.select().from(iamRoles).where(and(eq(iamRoles.accountId, accountId), eq(iamRoles.name, name))).limit(1))[0];
  }

  /** The role, or NoSuchEntity as AWS words it. */
  async require(accountId: string, name: string): Promise<RoleRow> {
    const role = await this.get(accountId, checkName('roleName', name, ROLE_NAME_MAX));
    if (!role) throw new CloudError('NoSuchEntity', `The role with name ${name} cannot be found.`);
    return role;
  }

  async create(accountId: string, input: NewRole): Promise<RoleRow> {
    const name = checkName('roleName', input.name, ROLE_NAME_MAX);
    const path = checkPath('path', input.path);
    const assumeRolePolicy = await checkTrustPolicy('assumeRolePolicyDocument', input.assumeRolePolicy, this.principalExists);
    const description = checkDescription(input.description);
    const maxSessionDuration = checkMaxSession(input.maxSessionDuration) ?? MIN_SESSION;
    const tags = checkTags(input.tags);
    return await write(this.db, async (tx) => {
      // Role names are unique regardless of case, as AWS's.
      const clash = (await tx.select({ name: iamRoles.name }).from(iamRoles)
        .where(and(eq(iamRoles.accountId, accountId), sql`lower(${iamRoles.name}) = lower(${name})`)).limit(1))[0];
      if (clash) throw new CloudError('EntityAlreadyExists', `Role with name ${name} already exists.`);
      const row: RoleRow = {
        accountId, name, roleId: iamId('AROA'), path, assumeRolePolicy, description: description ?? null, maxSessionDuration,
        createdAt: Date.now(),
      };
      await tx.insert(iamRoles).values(row);
      await this.tags.put(accountId, 'role', name, tags, tx);
      return row;
    });
  }

  /** The account's roles under a path prefix, by name. */
  async list(accountId: string, pathPrefix = '/'): Promise<RoleRow[]> {
    return (await this.db.select().from(iamRoles).where(eq(iamRoles.accountId, accountId)))
      .filter((r) => r.path.startsWith(pathPrefix))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** UpdateRole: its description and/or its longest session. */
  async update(accountId: string, name: string, change: { description?: string; maxSessionDuration?: number }): Promise<void> {
    await this.require(accountId, name);
    const description = checkDescription(change.description);
    const maxSessionDuration = checkMaxSession(change.maxSessionDuration);
    const set = { ...(description !== undefined ? { description } : {}), ...(maxSessionDuration !== undefined ? { maxSessionDuration } : {}) };
    if (Object.keys(set).length === 0) return;
    await this.db.update(iamRoles).set(set).where(and(eq(iamRoles.accountId, accountId), eq(iamRoles.name, name)));
  }

  /** UpdateAssumeRolePolicy: a new trust policy. */
  async updateTrust(accountId: string, name: string, document: string): Promise<void> {
    await this.require(accountId, name);
    const assumeRolePolicy = await checkTrustPolicy('policyDocument', document, this.principalExists);
    await this.db.update(iamRoles).set({ assumeRolePolicy }).where(and(eq(iamRoles.accountId, accountId), eq(iamRoles.name, name)));
  }

  /** Whether a user or role ARN (`arn:aws:iam::ACCOUNT:role/PATH/NAME`) names one that exists, path and all. */
  private readonly principalExists = async (arn: string): Promise<boolean> => {
    const m = /^arn:aws:iam::(\d{12}):(user|role)(\/.*\/|\/)([^/]+)$/.exec(arn);
    if (!m) return false;
    const [, accountId, kind, path, name] = m as unknown as [string, string, string, string, string];
    const table = kind === 'user' ? iamUsers : iamRoles;
    const row = (await this.db.select({ path: table.path }).from(table).where(and(eq(table.accountId, accountId), eq(table.name, name))).limit(1))[0];
    return row?.path === path;
  };

  async delete(accountId: string, name: string): Promise<void> {
    checkName('roleName', name, ROLE_NAME_MAX);
    await write(this.db, async (tx) => {
      const role = (await tx.select().from(iamRoles).where(and(eq(iamRoles.accountId, accountId), eq(iamRoles.name, name))).limit(1))[0];
      if (!role) throw new CloudError('NoSuchEntity', `The role with name ${name} cannot be found.`);
      const inProfile = (await tx.select({ n: iamInstanceProfiles.name }).from(iamInstanceProfiles)
        .where(and(eq(iamInstanceProfiles.accountId, accountId), eq(iamInstanceProfiles.roleName, name))).limit(1))[0];
      if (inProfile) throw new CloudError('DeleteConflict', 'Cannot delete entity, must remove roles from instance profile first.');
      const attached = (await tx.select({ n: iamAttachments.policyArn }).from(iamAttachments)
        .where(and(eq(iamAttachments.accountId, accountId), eq(iamAttachments.principalKind, 'role'), eq(iamAttachments.principalName, name))).limit(1))[0];
      if (attached) throw new CloudError('DeleteConflict', 'Cannot delete entity, must detach all policies first.');
      const inline = (await tx.select({ n: iamInlinePolicies.policyName }).from(iamInlinePolicies)
        .where(and(eq(iamInlinePolicies.accountId, accountId), eq(iamInlinePolicies.principalKind, 'role'), eq(iamInlinePolicies.principalName, name))).limit(1))[0];
      if (inline) throw new CloudError('DeleteConflict', 'Cannot delete entity, must delete policies first.');
      await this.tags.clear(accountId, 'role', name, tx);
      await tx.delete(iamRoles).where(and(eq(iamRoles.accountId, accountId), eq(iamRoles.name, name)));
    });
  }

  async count(accountId: string): Promise<number> {
    return (await this.db.select({ n: count() }).from(iamRoles).where(eq(iamRoles.accountId, accountId)).limit(1))[0]?.n ?? 0;
  }
}
